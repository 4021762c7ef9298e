"""Test-session setup shared by every test file.

Qt: two GL views in one process draw nothing unless OpenGL contexts are shared, and that
attribute must be set before any QApplication exists, so it is set here at configure time.
The X server comes from pytest-xvfb (do not force QT_QPA_PLATFORM=offscreen: GL needs X).
"""
from __future__ import annotations


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
