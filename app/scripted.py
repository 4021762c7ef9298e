"""What ``--screenshot`` and ``--transfer`` do in the real window."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication


def settle(window, seconds: float = 0.3) -> None:
    """Let queued model jobs deliver and the GL views draw."""
    window.runner.wait_idle()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    window.runner.wait_idle()


def run_transfer(window, content_photo: Path, pose_photo: Path) -> None:
    """A = the content of the first photo (kept), B = the pose of the second; run the transfer."""
    session = window.session
    if not window.open_photo(str(content_photo)):
        return
    window.runner.wait_idle()
    session.transfer.kinds["A"] = "photo"
    session.keep_transfer_source("A")
    if not window.open_photo(str(pose_photo)):
        return
    window.runner.wait_idle()
    session.transfer.set_kind("B", "photo")
    window.docks["transfer"].raise_()


def save_screenshot(window, path: Path) -> None:
    settle(window)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path)):
        raise OSError(f"cannot write the screenshot {path}")
    print(f"saved {path}")
