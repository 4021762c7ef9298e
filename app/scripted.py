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


def run_transfer(window, content_photo: Path, pose_photo: Path) -> bool:
    """A = the content of the first photo (kept), B = the pose of the second; run the transfer.
    Both photos are opened (each refusal is posted to the window's messages); False, and no
    transfer, if either is refused."""
    session = window.session
    content_ok = window.open_photo(str(content_photo))
    if content_ok:
        window.runner.wait_idle()
        session.transfer.kinds["A"] = "photo"
        session.keep_transfer_source("A")
    pose_ok = window.open_photo(str(pose_photo))
    if not (content_ok and pose_ok):
        return False
    window.runner.wait_idle()
    session.transfer.set_kind("B", "photo")
    window.docks["transfer"].raise_()
    return True


def save_screenshot(window, path: Path) -> None:
    settle(window)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path)):
        raise OSError(f"cannot write the screenshot {path}")
    print(f"saved {path}")
