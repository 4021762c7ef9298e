"""3D pose editing: joint drags in the GL viewport, presets, undo/redo, pose JSON."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from core.hand.joints import BONES
from tests.app_helpers import settle

INDEX_MCP = 5
INDEX_TIP = 8


def bone_lengths(keypoints: np.ndarray) -> np.ndarray:
    return np.array([np.linalg.norm(keypoints[c] - keypoints[p]) for p, c in BONES])


def joint_on_screen(view, joint: int) -> QPoint:
    px, _ = view.project(view.scene_joints()[joint : joint + 1])
    return QPoint(int(round(px[0, 0])), int(round(px[0, 1])))


def drag_in_view(qtbot, view, start: QPoint, end: QPoint, steps: int = 6) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, steps + 1):
        point = start + (end - start) * (k / steps)
        qtbot.mouseMove(view, pos=point)
        qtbot.wait(15)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)


@pytest.fixture
def posed_window(window, qtbot):
    """A window showing the open-hand preset, with a synthesised image."""
    window.session.apply_preset("spread")
    settle(qtbot, window)
    return window


def test_dragging_a_fingertip_moves_it_and_keeps_every_bone_length(posed_window, qtbot):
    window = posed_window
    view = window.pose_panel.view
    before = window.session.pose.keypoints
    image_before = window.session.image.image.copy()
    start = joint_on_screen(view, INDEX_TIP)
    assert view.joint_at(start.x(), start.y()) == INDEX_TIP
    # halfway toward the knuckle on screen: reachable only by curling, whatever the view
    knuckle = joint_on_screen(view, INDEX_MCP)
    drag_in_view(qtbot, view, start, start + (knuckle - start) * 0.5)
    settle(qtbot, window)
    after = window.session.pose.keypoints
    assert np.linalg.norm(after[INDEX_TIP] - before[INDEX_TIP]) > 5.0  # mm
    np.testing.assert_allclose(bone_lengths(after), bone_lengths(before), rtol=0.01)
    # only the dragged finger bends
    np.testing.assert_allclose(after[12:], before[12:], atol=1e-6)
    assert not np.array_equal(window.session.image.image, image_before)
    # the image shown is the one decoded from the latent the session holds
    np.testing.assert_array_equal(window.session.image.latent, window.session.latent.value)


def test_a_press_away_from_the_joints_orbits_the_camera(posed_window, qtbot):
    view = posed_window.pose_panel.view
    before_pose = posed_window.session.pose.keypoints
    azimuth = view.opts["azimuth"]
    corner = QPoint(8, 8)
    assert view.joint_at(corner.x(), corner.y()) is None
    drag_in_view(qtbot, view, corner, corner + QPoint(60, 0))
    settle(qtbot, posed_window)
    assert view.opts["azimuth"] != azimuth
    np.testing.assert_allclose(posed_window.session.pose.keypoints, before_pose)


def test_dragging_the_wrist_turns_the_whole_hand_rigidly(posed_window, qtbot):
    window = posed_window
    before = window.session.pose.keypoints
    window.session.drag_joint(0, before[0] + np.array([40.0, 0.0, 0.0]))
    window.session.end_drag()
    settle(qtbot, window)
    after = window.session.pose.keypoints
    assert np.linalg.norm(after[0] - before[0]) > 5.0
    np.testing.assert_allclose(bone_lengths(after), bone_lengths(before), rtol=1e-6)


def test_presets_undo_and_redo(window, qtbot):
    session = window.session
    session.apply_preset("fist")
    settle(qtbot, window)
    fist = session.pose.keypoints
    session.apply_preset("point")
    settle(qtbot, window)
    point = session.pose.keypoints
    assert np.linalg.norm(fist[INDEX_TIP] - point[INDEX_TIP]) > 30.0  # the index straightens
    session.undo()
    settle(qtbot, window)
    np.testing.assert_allclose(session.pose.keypoints, fist)
    session.redo()
    settle(qtbot, window)
    np.testing.assert_allclose(session.pose.keypoints, point)


def test_editing_the_pose_keeps_the_content_block(posed_window, qtbot):
    session = posed_window.session
    content = session.model.block("content").slice
    before = session.latent.value
    session.apply_preset("fist")
    settle(qtbot, posed_window)
    after = session.latent.value
    np.testing.assert_allclose(after[content], before[content])
    assert not np.allclose(after, before)


def test_save_and_load_a_pose_json(posed_window, qtbot, tmp_path):
    session = posed_window.session
    path = tmp_path / "pose.json"
    session.files.save_pose(path)
    data = json.loads(path.read_text())
    assert np.asarray(data["keypoints_3d"]).shape == (21, 3)
    saved = session.pose.keypoints
    session.apply_preset("fist")
    settle(qtbot, posed_window)
    session.files.load_pose(path)
    settle(qtbot, posed_window)
    np.testing.assert_allclose(session.pose.keypoints, saved, atol=2.0)


def test_a_broken_pose_file_is_refused_with_a_message(window, qtbot, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"keypoints_3d": [[1, 2]]}')
    window.session.files.load_pose(path)
    assert window.session.messages.messages[-1].level == "error"
    assert "broken.json" in window.session.messages.messages[-1].text


def test_left_hand_mirrors_the_skeleton(posed_window, qtbot):
    session = posed_window.session
    before, was_left = session.pose.keypoints, session.pose.hand.is_left
    assert posed_window.pose_panel.left_hand.isChecked() == was_left
    posed_window.pose_panel.left_hand.setChecked(not was_left)
    settle(qtbot, posed_window)
    assert session.pose.hand.is_left != was_left
    after = session.pose.keypoints
    np.testing.assert_allclose(bone_lengths(after), bone_lengths(before), rtol=1e-6)
    assert not np.allclose(after, before)


def test_linked_view_turns_the_hand_to_what_the_orbit_camera_showed(posed_window, qtbot):
    window = posed_window
    view = window.pose_panel.view
    window.pose_panel.link.setChecked(True)
    view.setCameraPosition(azimuth=-60, elevation=20)  # as an orbit drag leaves it
    seen_from_orbit, _ = view.project(view.scene_joints())
    before = window.session.pose.keypoints
    image = window.session.image.image.copy()
    view.apply_view_to_hand()
    settle(qtbot, window)
    assert (view.opts["azimuth"], view.opts["elevation"]) == (-90, 0)
    seen_from_front, _ = view.project(view.scene_joints())
    # the front camera now sees the turned hand where the orbit camera saw the old one
    offset = seen_from_front.mean(axis=0) - seen_from_orbit.mean(axis=0)
    np.testing.assert_allclose(seen_from_front - offset, seen_from_orbit, atol=1.5)
    np.testing.assert_allclose(bone_lengths(window.session.pose.keypoints), bone_lengths(before), rtol=1e-6)
    assert not np.array_equal(window.session.image.image, image)
