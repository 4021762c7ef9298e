"""``python main.py --benchmark``: latency from a user's edit to the new image on screen.

Measured in the real window: the time from a slider value change (or a mouse move while
dragging a joint in the 3D view) to the end of the paint of the image decoded for it. Changes
are made one at a time (each waits for its image), so each figure is one full round trip:
event -> model call on the worker -> queued signal -> paint. The last line printed is JSON.
"""
from __future__ import annotations

import json
import time

import numpy as np
from PySide6.QtCore import QEventLoop, QPoint, Qt, QTimer
from PySide6.QtTest import QTest

from app import hand_pose
from app.view_link import scene_to_camera

SLIDER_CHANGES = 120
JOINT_DRAGS = 40
DRAG_STEP_PX = 3
DRAG_JOINTS = (8, 12, 16, 20, 4)  # fingertips, index first
MIN_MOVE_MM = 0.2
TIMEOUT_S = 10.0


class _PaintWatcher:
    """Records when the image view paints an image decoded from a given latent.

    The view paints a new image at once (``ImageView.set_image``), which can be before the caller
    starts waiting (a pose edit sets the image, then the latent): the last paint is remembered.
    """

    def __init__(self, window) -> None:
        self.window = window
        self.expected: np.ndarray | None = None
        self.shown_at: float | None = None
        self.last_painted: tuple[np.ndarray, float] | None = None
        self.loop = QEventLoop()
        self.timer = QTimer()
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.loop.quit)
        window.image_view.painted.connect(self._on_painted)

    def _on_painted(self, _token) -> None:
        latent = self.window.session.image.latent
        if latent is None:
            return
        now = time.perf_counter()
        self.last_painted = (np.array(latent, copy=True), now)
        if self.shown_at is None and self.expected is not None and np.array_equal(latent, self.expected):
            self.shown_at = now
            self.loop.quit()

    def wait(self, expected: np.ndarray) -> float:
        """The time ``expected``'s image is painted (the clock started by the caller).

        Waits in a Qt event loop, as the app does, not in a busy loop that would compete with
        the worker thread for the GIL.
        """
        if self.shown_at is None and self.last_painted is not None and np.array_equal(self.last_painted[0], expected):
            self.shown_at = self.last_painted[1]
        self.expected = expected
        if self.shown_at is None:
            self.timer.start(int(TIMEOUT_S * 1000))
            self.loop.exec()
            self.timer.stop()
        if self.shown_at is None:
            raise TimeoutError("no image reached the screen within 10 s")
        shown, self.shown_at, self.expected = self.shown_at, None, None
        return shown


def _slider_latencies(window, watcher: _PaintWatcher, rng: np.random.Generator) -> list[float]:
    sliders = window.latent_panel.sliders
    times = []
    for i in range(SLIDER_CHANGES):
        slider = sliders[int(rng.integers(len(sliders)))]
        value = int(rng.integers(slider.minimum(), slider.maximum() + 1))
        if value == slider.value():
            value = -value or 1
        start = time.perf_counter()
        slider.setValue(value)  # what a drag or a click on the slider does
        expected = window.session.latent.value
        times.append(watcher.wait(expected) - start)
        window.runner.wait_idle()  # the pose job of pose/viewpoint sliders must not leak into the next change
    return times


def _drag_latencies(window, watcher: _PaintWatcher) -> list[float]:
    """Drag a fingertip out by ``DRAG_STEP_PX`` and back, one move at a time.

    A straight finger seen from the palm moves only in depth to first order, so a drag across
    the screen can leave its pose unchanged; the joint and the direction are chosen where the
    inverse kinematics does move (``_movable_drag``), whatever pose and viewpoint the model
    decoded first.
    """
    session, view = window.session, window.pose_panel.view
    session.apply_preset("spread")
    window.runner.wait_idle()
    joint, step = _movable_drag(view, session.pose.hand)
    px, _ = view.project(view.scene_joints()[joint : joint + 1])
    start_point = QPoint(round(px[0, 0]), round(px[0, 1]))
    times = []
    QTest.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start_point)
    point = start_point
    for k in range(JOINT_DRAGS):
        # out and back: the way back leads to a pose met before, so it stays reachable
        point = start_point + step if k % 2 == 0 else start_point
        before = session.latent.value
        start = time.perf_counter()
        QTest.mouseMove(view, point)
        times.append(_wait_for_edit(window, watcher, before) - start)
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    window.runner.wait_idle()
    return times


def _movable_drag(view, hand: hand_pose.HandPose) -> tuple[int, QPoint]:
    """A fingertip the view picks at its drawn position, and a screen step that moves it.

    Tries the fingertips and eight directions, solving the drag's inverse kinematics off-screen
    (``hand_pose.drag``) as the session will, and returns the first pair that moves the tip by
    at least ``MIN_MOVE_MM``.
    """
    px, depth = view.project(view.scene_joints())
    for joint in DRAG_JOINTS:
        x, y = round(px[joint, 0]), round(px[joint, 1])
        if view.joint_at(x, y) != joint:
            continue  # drawn under another joint: a press there would pick that one
        for angle in np.arange(8) * np.pi / 4:
            step = QPoint(round(DRAG_STEP_PX * np.cos(angle)), round(DRAG_STEP_PX * np.sin(angle)))
            target = scene_to_camera(view.unproject(x + step.x(), y + step.y(), float(depth[joint]))[None])[0]
            moved = hand_pose.drag(hand, joint, target).keypoints()[joint] - hand.keypoints()[joint]
            if np.linalg.norm(moved) >= MIN_MOVE_MM:
                return joint, step
    raise RuntimeError("no fingertip of the benchmark's pose can be dragged on screen")


def _wait_for_edit(window, watcher: _PaintWatcher, before: np.ndarray) -> float:
    """The time the image of the first latent different from ``before`` is painted."""
    loop = QEventLoop()
    latent = window.session.latent

    def changed(_source: str) -> None:
        if not np.array_equal(latent.value, before):
            loop.quit()

    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(loop.quit)
    latent.changed.connect(changed)
    if np.array_equal(latent.value, before):
        timer.start(int(TIMEOUT_S * 1000))
        loop.exec()
        timer.stop()
    latent.changed.disconnect(changed)
    return watcher.wait(latent.value)


def _decode_ms(window, repeats: int = 30) -> float:
    model, z = window.session.model, window.session.latent.value
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.decode(z)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


class _StallMeter:
    """Gaps between ticks of a 4 ms timer: how long the GUI thread was busy at a stretch."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(4)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> np.ndarray:
        self.timer.stop()
        return np.array(self.gaps) * 1000


def run_benchmark(window) -> dict[str, float]:
    """Measure in ``window`` (shown, model loaded) and print the figures, JSON last."""
    window.runner.wait_idle()
    watcher = _PaintWatcher(window)
    rng = np.random.default_rng(0)
    stalls = _StallMeter()
    stalls.start()
    sliders = np.array(_slider_latencies(window, watcher, rng)) * 1000
    gaps = stalls.stop()
    drags = np.array(_drag_latencies(window, watcher)) * 1000
    result = {
        "model": window.session.model.description,
        "image_size": window.session.model.image_size,
        "output_size": window.session.model.output_size,
        "slider_changes": len(sliders),
        "joint_drags": len(drags),
        "decode_only_ms_p50": round(_decode_ms(window), 2),
        "slider_to_image_ms_p50": round(float(np.percentile(sliders, 50)), 2),
        "slider_to_image_ms_p95": round(float(np.percentile(sliders, 95)), 2),
        "drag_to_image_ms_p50": round(float(np.percentile(drags, 50)), 2),
        "drag_to_image_ms_p95": round(float(np.percentile(drags, 95)), 2),
        # the GUI thread's longest busy stretches while the sliders moved (a frame is ~16.7 ms)
        "gui_busy_ms_p99": round(float(np.percentile(gaps, 99)), 2),
        "gui_busy_ms_max": round(float(gaps.max()), 2),
    }
    for key, value in result.items():
        print(f"{key}: {value}")
    print(json.dumps(result))
    return result
