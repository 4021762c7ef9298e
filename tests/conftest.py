"""Test-session setup and the fixtures shared by several test files.

Qt: two GL views in one process draw nothing unless OpenGL contexts are shared, and that
attribute must be set before any QApplication exists, so it is set here at configure time.
The X server comes from pytest-xvfb (do not force QT_QPA_PLATFORM=offscreen: GL needs X).

Fixtures: ``one_thread`` (a module asks for it with ``pytestmark = pytest.mark.usefixtures("one_thread")``)
and ``window`` (the GUI tests' main window). Helpers that are not fixtures live in
``tests/app_helpers.py``, ``tests/data_builders.py``, ``tests/model_builders.py`` and
``tests/trainer_toys.py``; test files import from those, never from each other.
"""
from __future__ import annotations

from typing import Iterator

import pytest
import torch


def pytest_configure(config) -> None:
    try:
        from PySide6.QtCore import QCoreApplication, Qt
    except ImportError:  # the app's extras are not installed: the GUI tests skip themselves
        return
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    import os
    from pathlib import Path

    import cv2

    from app.display import forget_opencv_qt

    forget_opencv_qt(os.environ, Path(cv2.__file__).parent)  # as app.cli does: Qt 6 is not cv2's Qt 5


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Tiny models on a shared 2-core machine: one intra-op thread is many times faster than two
    threads competing with other processes. A module asks for it for all its tests with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def window(qtbot, tmp_path):
    """The main window on an untrained tiny model, shown and settled (``tests.app_helpers.make_window``)."""
    from tests.app_helpers import make_window  # skips the test where the app's extras are missing

    win = make_window(qtbot, tmp_path)
    yield win
    win.close()
