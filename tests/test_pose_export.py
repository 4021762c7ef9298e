"""Poses that travel: OpenPose JSON, skeleton, depth and mask export, and OpenPose import (core + CLI)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from core.api import HandModel
from core.export.bundle import export_pose
from core.export.lift import lift_to_3d
from core.export.maps import FramingConfig, PosedHand, render_maps
from core.export.openpose import OpenPoseFormatError, OpenPoseHand, read_openpose_json
from core.export.pose_file import load_pose_json, save_pose_json
from core.hand.gestures import GESTURES, gesture_angles
from core.hand.joints import BONES, NUM_JOINTS
from core.hand.kinematics import mean_hand_shape
from train import pose_export

PALM_TO_CAMERA = np.diag([1.0, -1.0, -1.0])  # palm toward the camera, fingers up


def gesture_hand(name: str, euler_deg=(0.0, 0.0, 0.0), is_left: bool = False) -> PosedHand:
    gesture = next(g for g in GESTURES if g.value.name == name)
    angles = gesture_angles(gesture, 1, mean_hand_shape(1))[0].numpy().astype(np.float64)
    turn = Rotation.from_euler("xyz", euler_deg, degrees=True).as_matrix()
    return PosedHand(angles, turn @ PALM_TO_CAMERA, is_left=is_left)


@pytest.fixture(scope="module")
def model() -> HandModel:
    return HandModel.load()  # the bundled model: its pose prior is what the app uses


def openpose_keypoints(path) -> tuple[np.ndarray, dict]:
    data = json.loads(path.read_text())
    person = data["people"][0]
    flat = person["hand_right_keypoints_2d"] or person["hand_left_keypoints_2d"]
    return np.asarray(flat).reshape(NUM_JOINTS, 3), data


@pytest.mark.slow
@pytest.mark.parametrize("name, euler, is_left", [
    ("victory", (25.0, -35.0, 10.0), False),
    ("fist", (-20.0, 40.0, -15.0), True),
    ("three", (50.0, 10.0, 30.0), False),
])
def test_export_then_import_gives_the_same_2d_keypoints_within_a_pixel(tmp_path, model, name, euler, is_left):
    hand = gesture_hand(name, euler, is_left)
    first = export_pose(hand, tmp_path / "first")
    imported = read_openpose_json(first.files["openpose.json"])
    assert imported.is_left == is_left and imported.canvas_wh == (512, 512)
    lifted = lift_to_3d(imported, model)
    again = export_pose(lifted.hand, tmp_path / "again")
    before, _ = openpose_keypoints(first.files["openpose.json"])
    after, _ = openpose_keypoints(again.files["openpose.json"])
    assert np.linalg.norm(after[:, :2] - before[:, :2], axis=1).max() < 1.0
    assert lifted.hand.is_left == is_left
    # an editable hand: the kinematic mean hand within its joint limits, not a bag of points
    bones = lambda kp: np.array([np.linalg.norm(kp[c] - kp[p]) for p, c in BONES])  # noqa: E731
    np.testing.assert_allclose(bones(lifted.hand.keypoints()), bones(hand.keypoints()), rtol=1e-6)


def test_the_depth_maps_nearest_pixel_lies_on_the_joint_nearest_the_camera(tmp_path):
    # the index finger points up and toward the camera; its tip is the nearest joint
    hand = gesture_hand("point", (50.0, 15.0, 0.0))
    exported = export_pose(hand, tmp_path / "hand", FramingConfig(size=256))
    depth = cv2.imread(str(exported.files["depth.png"]), cv2.IMREAD_UNCHANGED)
    mask = cv2.imread(str(exported.files["mask.png"]), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint16 and depth.shape == (256, 256) and mask.shape == (256, 256)
    maps = exported.maps
    nearest_joint = int(np.argmin(maps.keypoints_3d[:, 2]))
    assert nearest_joint == 8  # the pose does what the test means
    row, col = np.unravel_index(np.argmax(depth), depth.shape)
    distance = np.linalg.norm(maps.keypoints_2d - np.array([col, row]), axis=1)
    assert int(np.argmin(distance)) == nearest_joint
    assert distance[nearest_joint] < 0.05 * 256
    # near = bright: the visible joints' depth-map values fall as their distance grows
    px = np.round(maps.keypoints_2d).astype(int)
    visible = np.flatnonzero(maps.visible)
    values = depth[px[visible, 1], px[visible, 0]].astype(float)
    assert np.corrcoef(values, maps.keypoints_3d[visible, 2])[0, 1] < -0.9
    # the background is 0 and the hand never is; the mask covers exactly the hand
    assert ((depth > 0) == (mask == 255)).all() and set(np.unique(mask)) == {0, 255}
    assert 0.05 < (mask > 0).mean() < 0.6


def test_the_openpose_json_has_the_layout_editors_read(tmp_path):
    hand = gesture_hand("open")  # right hand, palm to the camera, fingers up
    exported = export_pose(hand, tmp_path / "hand", FramingConfig(size=320))
    keypoints, data = openpose_keypoints(exported.files["openpose.json"])
    assert data["canvas_width"] == 320 and data["canvas_height"] == 320
    person = data["people"][0]
    assert len(data["people"]) == 1
    assert len(person["hand_right_keypoints_2d"]) == 63 and person["hand_left_keypoints_2d"] == []
    assert all(isinstance(person[key], list) for key in ("pose_keypoints_2d", "face_keypoints_2d"))
    assert ((keypoints[:, 2] > 0) & (keypoints[:, 2] <= 1)).all()
    assert ((keypoints[:, :2] >= 0) & (keypoints[:, :2] <= 319)).all()
    # OpenPose's order: wrist lowest, middle fingertip highest, thumb tip on the thumb's side
    assert np.argmax(keypoints[:, 1]) == 0 and np.argmin(keypoints[:, 1]) == 12
    chains = [keypoints[[0, 1 + 4 * f, 2 + 4 * f, 3 + 4 * f, 4 + 4 * f], 1] for f in range(1, 5)]
    assert all(np.all(np.diff(chain) < 0) for chain in chains)  # every finger goes up, base -> tip
    # the left hand goes to the left-hand array, mirrored
    left = export_pose(gesture_hand("open", is_left=True), tmp_path / "left", FramingConfig(size=320))
    left_kp, left_data = openpose_keypoints(left.files["openpose.json"])
    assert left_data["people"][0]["hand_right_keypoints_2d"] == []
    np.testing.assert_allclose(left_kp[:, 0], 319 - keypoints[:, 0], atol=0.01)


def test_the_skeleton_image_is_drawn_like_the_controlnet_preprocessor(tmp_path):
    exported = export_pose(gesture_hand("spread"), tmp_path / "hand")
    skeleton = cv2.cvtColor(cv2.imread(str(exported.files["skeleton.png"])), cv2.COLOR_BGR2RGB)
    kp = exported.openpose.keypoints
    for joint in range(NUM_JOINTS):  # blue dots on every joint
        x, y = np.round(kp[joint]).astype(int)
        assert tuple(skeleton[y, x]) == (0, 0, 255)
    # bone 0 (wrist -> thumb CMC) red, bone 10 (middle PIP -> DIP) cyan: hue i / 20
    for bone, rgb in ((0, (255, 0, 0)), (10, (0, 255, 255))):
        parent, child = BONES[bone]
        x, y = np.round(0.5 * (kp[parent] + kp[child])).astype(int)
        assert tuple(skeleton[y, x]) == rgb
    assert (skeleton.sum(-1) == 0).mean() > 0.9  # black background
    mask = cv2.imread(str(exported.files["mask.png"]), cv2.IMREAD_UNCHANGED)
    on_hand = [mask[int(round(y)), int(round(x))] for x, y in kp]
    assert sum(v == 255 for v in on_hand) >= 19  # the skeleton lies on the rendered hand


def write_json(path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


# 21 joints on a diagonal, each found: a valid hand array (x, y, confidence) * 21
SPREAD_HAND = [v for j in range(21) for v in (100.0 + 5 * j, 120.0 + 3 * j, 0.9)]


@pytest.mark.parametrize("content, message", [
    ("not json {", "not an OpenPose JSON file"),
    ({"version": 1.3}, "no 'people' list"),
    ({"people": []}, "no hand"),
    ({"people": [{"pose_keypoints_2d": [1.0] * 54, "hand_right_keypoints_2d": [0.0] * 63,
                  "hand_left_keypoints_2d": []}]}, "no hand"),
    ({"people": [{"hand_right_keypoints_2d": [10.0] * 60}]}, "63 numbers"),
    ({"people": [{"hand_left_keypoints_2d": [10.0, 10.0, 2.0] * 21}]}, "confidences must lie in [0, 1]"),
    ({"people": [{"hand_left_keypoints_2d": ["a"] * 63}]}, "list of numbers"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ({"people": [{"hand_right_keypoints_2d": [100.0, 100.0, 0.9] * 21}]}, "no hand shape to lift"),
    ({"people": [{"hand_right_keypoints_2d": SPREAD_HAND}], "canvas_width": -512, "canvas_height": 512},
     "canvas_width / canvas_height must be"),
    ({"people": [{"hand_right_keypoints_2d": SPREAD_HAND}], "canvas_width": "512", "canvas_height": 512},
     "canvas_width / canvas_height must be"),
])
def test_bad_openpose_files_are_refused_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(OpenPoseFormatError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        read_openpose_json(path)
    assert "bad.json" in str(err.value)


def test_normalised_coordinates_and_a_missing_canvas_are_read(tmp_path):
    hand = gesture_hand("open")
    exported = export_pose(hand, tmp_path / "hand", FramingConfig(size=200))
    keypoints, data = openpose_keypoints(exported.files["openpose.json"])
    normalised = keypoints.copy()
    normalised[:, :2] /= 200.0
    data["people"][0]["hand_right_keypoints_2d"] = normalised.reshape(-1).tolist()
    read = read_openpose_json(write_json(tmp_path / "normalised.json", data))
    np.testing.assert_allclose(read.keypoints, keypoints[:, :2], atol=1e-6)
    del data["canvas_width"], data["canvas_height"]
    data["people"][0]["hand_right_keypoints_2d"] = keypoints.reshape(-1).tolist()
    read = read_openpose_json(write_json(tmp_path / "openpose_output.json", data))
    np.testing.assert_allclose(read.keypoints, keypoints[:, :2])


@pytest.mark.slow
def test_cli_exports_pose_files_and_imports_them_back(tmp_path, capsys):
    hand = gesture_hand("victory", (20.0, -30.0, 0.0))
    save_pose_json(tmp_path / "victory.json", hand.keypoints() + np.array([0.0, 0.0, 400.0]), False)
    out = tmp_path / "out"
    assert pose_export.main(["export", "--pose", str(tmp_path / "victory.json"), "--out", str(out),
                             "--size", "256"]) == 0
    for suffix in ("openpose.json", "skeleton.png", "depth.png", "mask.png", "image.png"):
        assert (out / f"victory_{suffix}").is_file()
    image = cv2.imread(str(out / "victory_image.png"))
    assert image.shape == (256, 256, 3)
    assert pose_export.main(["import", "--openpose", str(out / "victory_openpose.json"),
                             "--out", str(tmp_path / "back.json")]) == 0
    assert "right hand lifted to 3D" in capsys.readouterr().out
    keypoints, is_left = load_pose_json(tmp_path / "back.json")
    assert not is_left
    np.testing.assert_allclose(render_maps(PosedHand.from_keypoints(keypoints, False), FramingConfig(size=256))
                               .keypoints_2d, read_openpose_json(out / "victory_openpose.json").keypoints, atol=1.0)


def test_cli_refuses_a_file_without_a_hand(tmp_path, capsys):
    path = write_json(tmp_path / "body_only.json", {"people": [{"pose_keypoints_2d": [5.0] * 54}]})
    assert pose_export.main(["import", "--openpose", path, "--out", str(tmp_path / "x.json")]) == 2
    assert "no hand in this OpenPose file" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    assert pose_export.main(["export", "--pose", path, "--out", str(tmp_path / "o"), "--no-image"]) == 2
    assert "not a pose JSON file" in capsys.readouterr().err


@pytest.mark.slow
def test_a_hand_from_another_tool_is_lifted_whatever_its_canvas_and_missing_joints(model):
    """Another canvas, the hand elsewhere in it and three joints not found (0, 0, 0)."""
    exported = render_maps(gesture_hand("spread", (15.0, 30.0, -10.0), is_left=True), FramingConfig(size=512))
    keypoints = exported.keypoints_2d * 1.3 + np.array([400.0, 60.0])
    confidence = np.full(NUM_JOINTS, 0.9)
    confidence[[3, 11, 19]] = 0.0
    keypoints[confidence == 0] = 0.0
    lifted = lift_to_3d(OpenPoseHand(keypoints, confidence, True, (1280, 900)), model)
    assert lifted.hand.is_left
    assert lifted.error_px[confidence > 0].max() < 1.0 and lifted.mean_error_px < 1.0
