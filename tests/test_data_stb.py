"""STBDataset on tiny fixtures written in STB's native layout (.mat labels, 640x480 PNGs)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.io import loadmat, savemat

from core.data.crop import CropConfig, project
from core.data.loaders import DatasetError, STBDataset
from core.hand.joints import MIDDLE_MCP, WRIST, mirror_x
from tests.data_builders import camera_hand, truncate_file, write_stb

SK_K = np.array([[607.92271, 0, 314.78337], [0, 607.88192, 236.42484], [0, 0, 1]])
BB_K = np.array([[822.79041, 0, 318.47345], [0, 822.79041, 250.31296], [0, 0, 1]])


def left_hands(count: int) -> np.ndarray:
    return np.stack([mirror_x(camera_hand(seed=i, centre_mm=(-30.0 + 20 * i, 10.0, 550.0))) for i in range(count)])


def colour_to_depth(points: np.ndarray) -> np.ndarray:
    """The documented SK colour -> depth transform, written out independently of the loader."""
    rotation = cv2.Rodrigues(np.array([0.00531, -0.01196, 0.00301]))[0]
    return points @ rotation.T + np.array([-24.0381, -0.4563, -1.2326])


def back_to_camera(sample) -> np.ndarray:
    return sample.keypoints_3d.double().numpy() @ sample.crop_rotation.double().numpy()


@pytest.fixture
def sk_root(tmp_path):
    hands = left_hands(3)
    for sequence in ("B1Counting", "B1Random", "B2Random"):
        write_stb(tmp_path, sequence, colour_to_depth(hands), "SK", ("SK_color",), project(SK_K, hands))
    return tmp_path


def test_usual_split_and_shapes(sk_root):
    evaluation = STBDataset(sk_root, split="evaluation", crop=CropConfig(size=64))
    assert len(evaluation) == 6
    sample = evaluation[0]
    assert sample.image.shape == (3, 64, 64)
    assert bool(sample.is_left) and bool(sample.has_3d)
    assert sample.visible.all()
    with pytest.raises(DatasetError, match="images/B2Counting: missing folder"):
        STBDataset(sk_root, split="training")  # B2..B6 are expected; the fixture has B2Random only
    assert len(STBDataset(sk_root, sequences=("B2Random",))) == 3


def test_sk_labels_reach_the_colour_camera_and_the_palm_becomes_the_wrist(sk_root):
    hands = left_hands(3)
    raw = loadmat(str(sk_root / "labels" / "B1Counting_SK.mat"))["handPara"]
    dataset = STBDataset(sk_root, sequences=("B1Counting",), crop=CropConfig(size=96))
    for i in range(3):
        recovered = back_to_camera(dataset[i])
        assert np.abs(recovered - hands[i]).max() < 1e-3
        palm_in_file = raw[:, 0, i]  # STB joint 0: palm centre = mean of wrist and middle MCP
        assert np.abs(palm_in_file - colour_to_depth(hands[i][WRIST])).max() > 5.0  # it is not the wrist
        palm = 0.5 * (recovered[WRIST] + recovered[MIDDLE_MCP])
        assert np.abs(colour_to_depth(palm) - palm_in_file).max() < 1e-3
        assert np.abs(project(dataset[i].K.numpy(), dataset[i].keypoints_3d.numpy()) - dataset[i].keypoints_2d.numpy()).max() < 0.5


def test_stb_finger_order_is_converted(sk_root):
    raw = loadmat(str(sk_root / "labels" / "B1Counting_SK.mat"))["handPara"][:, :, 0].T  # (21, 3) STB order
    recovered = colour_to_depth(back_to_camera(STBDataset(sk_root, sequences=("B1Counting",))[0]))
    # STB: pinky MCP..tip are rows 1-4, thumb rows 17-20; internal: thumb 1-4, pinky 17-20
    assert np.abs(recovered[20] - raw[4]).max() < 1e-3
    assert np.abs(recovered[4] - raw[20]).max() < 1e-3


def test_bumblebee_right_camera_is_one_baseline_along_x(tmp_path):
    hands_right_cam = left_hands(2)
    labels_left_cam = hands_right_cam + np.array([120.054, 0.0, 0.0])
    write_stb(tmp_path, "B1Random", labels_left_cam, "BB", ("BB_left", "BB_right"), project(BB_K, hands_right_cam))
    right = STBDataset(tmp_path, sequences=("B1Random",), camera="BB_right")
    left = STBDataset(tmp_path, sequences=("B1Random",), camera="BB_left")
    assert np.abs(back_to_camera(right[1]) - hands_right_cam[1]).max() < 1e-3
    assert np.abs(back_to_camera(left[1]) - labels_left_cam[1]).max() < 1e-3


def test_malformed_label_file(sk_root):
    path = sk_root / "labels" / "B1Counting_SK.mat"
    savemat(str(path), {"handPara": np.zeros((3, 20, 3))})
    with pytest.raises(DatasetError, match="handPara") as caught:
        STBDataset(sk_root, split="evaluation")
    assert caught.value.path == str(path)
    savemat(str(path), {"joints": np.zeros((3, 21, 3))})
    with pytest.raises(DatasetError, match="missing variable 'handPara'"):
        STBDataset(sk_root, split="evaluation")
    path.write_bytes(b"not a mat file")
    with pytest.raises(DatasetError, match="MATLAB"):
        STBDataset(sk_root, split="evaluation")


def test_missing_and_truncated_images(sk_root):
    image = sk_root / "images" / "B1Counting" / "SK_color_1.png"
    truncate_file(image)
    with pytest.raises(DatasetError, match="truncated PNG") as caught:
        STBDataset(sk_root, split="evaluation")
    assert caught.value.path == str(image)
    (sk_root / "images" / "B1Counting" / "SK_color_2.png").unlink()
    dataset = STBDataset(sk_root, split="evaluation", skip_bad=True)
    assert len(dataset) == 4
    assert sorted((s.index, s.path) for s in dataset.skipped) == [
        (1, str(image)), (2, str(sk_root / "images" / "B1Counting" / "SK_color_2.png"))]
