"""Before Qt starts: is there a screen, and can Qt's xcb plugin load? No Qt import here.

Without a display, or without the system libraries of Qt's xcb platform plugin, Qt aborts with
its plugin trace; :func:`display_problem` finds both cases first and says in one line what to set
or install.
"""
from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path
from typing import Callable, Mapping, MutableMapping

# soname -> the Debian/Ubuntu package that provides it (the README's list)
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-icccm.so.4": "libxcb-icccm4", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-shape.so.0": "libxcb-shape0", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libGL.so.1": "libgl1", "libEGL.so.1": "libegl1", "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1", "libdbus-1.so.3": "libdbus-1-3", "libglib-2.0.so.0": "libglib2.0-0",
}
# Platforms that need no screen (the 3D view needs a real GL context, so only X or Wayland show all).
_NO_SCREEN_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def apt_install(packages: str, is_root: bool | None = None) -> str:
    """The install command for ``packages`` as this user can paste it: root has no ``sudo`` on a
    fresh Debian, a user needs it."""
    root = os.geteuid() == 0 if is_root is None and hasattr(os, "geteuid") else bool(is_root)
    return f"{'' if root else 'sudo '}apt-get install -y {packages}"


def forget_opencv_qt(environ: MutableMapping[str, str], cv2_folder: str | Path) -> list[str]:
    """Drop the Qt variables that importing a non-headless OpenCV sets to its own Qt 5 folders.

    ``opencv-contrib-python`` (MediaPipe's OpenCV, the project's one) points
    ``QT_QPA_PLATFORM_PLUGIN_PATH`` and ``QT_QPA_FONTDIR`` into ``cv2/qt/``; the app's Qt 6 must
    not look for its plugins or fonts there. Returns the names dropped.
    """
    inside = str(Path(cv2_folder).resolve())
    dropped = [name for name in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")
               if environ.get(name, "") and str(Path(environ[name]).resolve()).startswith(inside)]
    for name in dropped:
        del environ[name]
    return dropped


def display_problem(environ: Mapping[str, str], platform: str = sys.platform,
                    loads: Callable[[str], bool] = _loads, is_root: bool | None = None) -> str | None:
    """One line saying what to set or install before the window can open, or None (Linux only)."""
    if not platform.startswith("linux"):
        return None
    qpa = environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if qpa in _NO_SCREEN_PLATFORMS:
        return None
    if qpa.startswith("wayland"):
        if not environ.get("WAYLAND_DISPLAY"):
            return "no Wayland display (WAYLAND_DISPLAY is not set): run it in a desktop session"
        return None
    if not environ.get("DISPLAY"):
        if environ.get("WAYLAND_DISPLAY") and not qpa:
            return None  # Qt picks Wayland
        return ("no display (DISPLAY is not set): run it on a desktop, or without a screen under a virtual X "
                f"server: {apt_install('xvfb xauth', is_root)}, then xvfb-run -a python main.py ...")
    missing = sorted({package for soname, package in XCB_LIBRARIES.items() if not loads(soname)})
    if missing:
        return ("Qt's xcb platform plugin cannot load: install its libraries with "
                f"{apt_install(' '.join(missing), is_root)}")
    return None
