"""One OpenCV in the environment, and it does not get in the Qt app's way.

Two OpenCV distributions both install ``cv2/`` (whichever came last wins), so the project requires
the one MediaPipe requires, and only that; importing it sets Qt variables to its own Qt 5 folders,
which the app drops before its Qt 6 starts."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPENCV_DISTRIBUTIONS = {"opencv-python", "opencv-python-headless", "opencv-contrib-python",
                        "opencv-contrib-python-headless"}


def _name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")


def test_the_project_asks_for_one_opencv_per_python_and_mediapipes_where_mediapipe_is() -> None:
    requirements = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    opencv = [r for r in requirements if _name(r) in OPENCV_DISTRIBUTIONS]
    mediapipe = next(r for r in requirements if _name(r) == "mediapipe")
    assert mediapipe.split(";")[1].strip() == "python_version < '3.13'"
    with_mediapipe = [r for r in opencv if "python_version < '3.13'" in r]
    without = [r for r in opencv if "python_version >= '3.13'" in r]
    assert len(with_mediapipe) == 1 and len(without) == 1 and len(opencv) == 2
    assert _name(with_mediapipe[0]) == "opencv-contrib-python"
    try:
        required_by_mediapipe = {_name(r) for r in metadata.requires("mediapipe") or []}
    except metadata.PackageNotFoundError:
        return
    assert _name(with_mediapipe[0]) in required_by_mediapipe


def test_one_opencv_distribution_is_installed() -> None:
    installed = sorted({d.metadata["Name"].lower().replace("_", "-") for d in metadata.distributions()}
                       & OPENCV_DISTRIBUTIONS)
    assert len(installed) == 1, f"{installed} all install cv2/: keep one (pip uninstall the others, then " \
                                "pip install --force-reinstall --no-deps the one kept)"


def test_the_app_drops_opencvs_qt_paths_and_starts_on_x() -> None:
    code = ("import os, cv2\n"
            "from app.cli import make_application\n"
            "app = make_application(['t'])\n"
            "print(os.environ.get('QT_QPA_PLATFORM_PLUGIN_PATH'), os.environ.get('QT_QPA_FONTDIR'), app.platformName())")
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["None", "None", "xcb"]


def test_only_opencvs_own_folders_are_dropped(tmp_path) -> None:
    from app.display import forget_opencv_qt

    cv2_folder = tmp_path / "cv2"
    environ = {"QT_QPA_PLATFORM_PLUGIN_PATH": str(cv2_folder / "qt" / "plugins"), "QT_QPA_FONTDIR": "/usr/share/fonts"}
    assert forget_opencv_qt(environ, cv2_folder) == ["QT_QPA_PLATFORM_PLUGIN_PATH"]
    assert environ == {"QT_QPA_FONTDIR": "/usr/share/fonts"}  # the user's own setting stays
