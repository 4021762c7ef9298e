"""File > Export pose as... and File > Import OpenPose hand... in the window."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from app.view_link import hand_rotation_for_view
from core.export.maps import FramingConfig, PosedHand, render_maps
from tests.app_helpers import settle


def exported_keypoints(path) -> np.ndarray:
    person = json.loads(path.read_text())["people"][0]
    flat = person["hand_right_keypoints_2d"] or person["hand_left_keypoints_2d"]
    return np.asarray(flat).reshape(21, 3)[:, :2]


def shown_hand(session) -> PosedHand:
    hand = session.pose.hand
    return PosedHand(hand.angles, hand.viewpoint, hand.size_mm, hand.is_left)


def test_the_file_menu_exports_at_the_size_asked_for(window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    actions = {a.text(): a for a in window.menuBar().actions()[0].menu().actions()}
    assert "Import &OpenPose hand…" in actions
    monkeypatch.setattr(QInputDialog, "getInt", lambda *args, **kwargs: (320, True))
    monkeypatch.setattr(window, "save_file_name", lambda *args: str(tmp_path / "menu.png"))
    actions["Export &pose as…"].trigger()
    settle(qtbot, window)
    depth = cv2.imread(str(tmp_path / "menu_depth.png"), cv2.IMREAD_UNCHANGED)
    assert depth.shape == (320, 320) and depth.dtype == np.uint16 and depth.max() == 65535
    assert json.loads((tmp_path / "menu_openpose.json").read_text())["canvas_width"] == 320


@pytest.mark.slow
def test_export_then_import_in_the_app_keeps_the_2d_pose(window, qtbot, tmp_path):
    session = window.session
    settle(qtbot, window)
    session.set_left_hand(False)
    session.apply_preset("victory")
    settle(qtbot, window)
    session.files.export_pose_as(tmp_path / "hand", 256)
    settle(qtbot, window)
    assert session.messages.messages[-1].level == "info", session.messages.messages[-1].text
    for suffix in ("openpose.json", "skeleton.png", "depth.png", "mask.png", "image.png"):
        assert (tmp_path / f"hand_{suffix}").is_file()
    # the image file is the synthesised image on screen, enlarged to the canvas
    image = cv2.cvtColor(cv2.imread(str(tmp_path / "hand_image.png")), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(image, cv2.resize(session.image.image, (256, 256), interpolation=cv2.INTER_CUBIC))
    exported = exported_keypoints(tmp_path / "hand_openpose.json")
    np.testing.assert_allclose(exported, render_maps(shown_hand(session), FramingConfig(size=256)).keypoints_2d,
                               atol=0.01)

    session.apply_preset("fist")  # something else, then bring the exported hand back
    settle(qtbot, window)
    session.files.import_openpose(tmp_path / "hand_openpose.json")
    settle(qtbot, window)
    assert "Imported the right hand of hand_openpose.json" in session.messages.messages[-1].text
    back = render_maps(shown_hand(session), FramingConfig(size=256)).keypoints_2d
    assert np.linalg.norm(back - exported, axis=1).max() < 1.0
    # the image follows the imported pose; undo returns to the fist
    np.testing.assert_array_equal(session.image.latent, session.latent.value)
    session.undo()
    settle(qtbot, window)
    assert np.linalg.norm(render_maps(shown_hand(session), FramingConfig(size=256)).keypoints_2d - exported,
                          axis=1).max() > 5.0


def test_export_uses_the_orbited_3d_view(window, qtbot, tmp_path):
    session = window.session
    settle(qtbot, window)
    turn = hand_rotation_for_view(-30.0, 25.0)
    session.files.export_pose_as(tmp_path / "front", 128)
    session.files.export_pose_as(tmp_path / "orbit", 128, turn)
    settle(qtbot, window)
    expected = render_maps(shown_hand(session).turned(turn), FramingConfig(size=128)).keypoints_2d
    np.testing.assert_allclose(exported_keypoints(tmp_path / "orbit_openpose.json"), expected, atol=0.01)
    assert np.abs(exported_keypoints(tmp_path / "front_openpose.json") - expected).max() > 5.0
    front = cv2.imread(str(tmp_path / "front_image.png"))
    orbit = cv2.imread(str(tmp_path / "orbit_image.png"))
    assert not np.array_equal(front, orbit)  # re-synthesised for the view


def test_bad_openpose_files_and_sizes_give_messages_and_keep_the_pose(window, qtbot, tmp_path):
    session = window.session
    settle(qtbot, window)
    before = session.pose.keypoints
    no_hand = tmp_path / "no_hand.json"
    no_hand.write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 54, "hand_right_keypoints_2d": []}]}))
    session.files.import_openpose(no_hand)
    settle(qtbot, window)
    message = session.messages.messages[-1]
    assert message.level == "error" and "no_hand.json: no hand in this OpenPose file" in message.text
    session.files.export_pose_as(tmp_path / "tiny", 4)
    assert session.messages.messages[-1].level == "error" and "size" in session.messages.messages[-1].text
    np.testing.assert_allclose(session.pose.keypoints, before)
    assert not (tmp_path / "tiny_openpose.json").exists()
