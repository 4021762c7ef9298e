"""During a walk the 3D skeleton moves with the image: each frame's pose takes longer to derive
(inverse kinematics, ~100 ms) than a frame lasts (40 ms), and a pose overtaken by the next frame
was dropped, so the skeleton froze until the walk stopped."""
from __future__ import annotations

from core.models.config import POSE
from tests.app_helpers import settle


def test_the_skeleton_moves_during_a_walk(window, qtbot):
    session, panel = window.session, window.latent_panel
    settle(qtbot, window)
    panel.walk_dim.setValue(session.model.block(POSE).start)  # a pose dimension: the skeleton changes
    poses = []
    session.pose.changed.connect(lambda: poses.append(session.pose.hand) if panel.walk.playing else None)
    panel.walk_button.setChecked(True)
    qtbot.waitUntil(lambda: len(poses) >= 3, timeout=20_000)  # while the walk still plays
    assert panel.walk.playing
    panel.walk_button.setChecked(False)
    settle(qtbot, window)
    assert len({id(p) for p in poses}) >= 3
