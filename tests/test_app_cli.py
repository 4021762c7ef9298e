"""main.py as a user runs it: --screenshot lays out the window, saves a PNG and exits."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from tests.app_helpers import write_test_photo

pytest.importorskip("PySide6")
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_main_py_screenshot_writes_a_png_of_the_window(tmp_path):
    out = tmp_path / "shot.png"
    photo = write_test_photo(tmp_path / "hand.png")
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "xcb"))
    result = subprocess.run([sys.executable, "main.py", "--untrained", "--image", str(photo), "--size", "1200x760",
                             "--screenshot", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(out))
    assert image is not None and image.shape[:2] == (760, 1200)
    assert image.std() > 10  # not a blank window
    # the hand finder's answer is said in words (found boxes, none, or no finder bundled)
    line = next(line for line in result.stderr.splitlines() if line.startswith("hand.png:"))
    assert any(words in line for words in ("hand(s) found", "no hand found", "no hand finder")), line
