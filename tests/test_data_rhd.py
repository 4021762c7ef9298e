"""RHDDataset on tiny fixtures written in RHD's native layout."""
from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest
import torch

from core.data.crop import CropConfig, project
from core.data.loaders import DatasetError, RHDDataset
from core.hand.joints import to_rhd
from tests.data_builders import camera_hand, edit_pickle, intrinsics, truncate_file, write_rhd

K = intrinsics(300.0, 159.5, 159.5)
RIGHT = camera_hand(seed=1, centre_mm=(40.0, 20.0, 600.0))
LEFT_BIG = camera_hand(seed=2, centre_mm=(-30.0, -10.0, 450.0))
LEFT_SMALL = camera_hand(seed=3, centre_mm=(-90.0, -60.0, 900.0))


def back_to_camera(sample) -> np.ndarray:
    return sample.keypoints_3d.double().numpy() @ sample.crop_rotation.double().numpy()


@pytest.fixture
def rhd_root(tmp_path):
    # sample 0: only a right hand; 1: big left + small right; 2: small left + big right
    return write_rhd(tmp_path, "training", [(None, RIGHT), (LEFT_BIG, LEFT_SMALL + [0, 0, 300]), (LEFT_SMALL, RIGHT)], K)


def test_samples_have_the_documented_shapes(rhd_root):
    dataset = RHDDataset(rhd_root, "training", crop=CropConfig(size=96))
    assert len(dataset) == 3
    sample = dataset[0]
    assert sample.image.shape == (3, 96, 96) and sample.image.dtype == torch.float32
    assert 0.0 <= float(sample.image.min()) and float(sample.image.max()) <= 1.0
    assert sample.mask.shape == (1, 96, 96) and float(sample.mask.max()) == pytest.approx(1.0)
    assert sample.keypoints_3d.shape == (21, 3) and sample.keypoints_2d.shape == (21, 2)
    assert bool(sample.has_3d) and bool(sample.has_2d) and not bool(sample.has_content)
    assert int(sample.index) == 0


def test_metres_become_millimetres_in_internal_order(rhd_root):
    sample = RHDDataset(rhd_root, crop=CropConfig(size=96))[0]
    assert np.abs(back_to_camera(sample) - RIGHT).max() < 1e-3
    with open(rhd_root / "training" / "anno_training.pickle", "rb") as handle:
        raw = pickle.load(handle)[0]["xyz"][21:] * 1000.0
    # RHD lists each finger tip -> MCP: its row 1 is the thumb tip, row 4 the thumb's base joint
    internal = back_to_camera(sample)
    assert np.abs(internal[4] - raw[1]).max() < 1e-2
    assert np.abs(internal[1] - raw[4]).max() < 1e-2
    assert np.abs(internal[20] - raw[17]).max() < 1e-2  # pinky tip


def test_2d_labels_are_the_projection_of_3d_in_the_crop(rhd_root):
    for sample in RHDDataset(rhd_root, crop=CropConfig(size=128)):
        projected = project(sample.K.double().numpy(), sample.keypoints_3d.double().numpy())
        assert np.abs(projected - sample.keypoints_2d.double().numpy()).max() < 0.5
        uv = sample.keypoints_2d.numpy()
        assert (uv > 0).all() and (uv < 127).all()


def test_auto_picks_the_hand_with_more_mask_pixels(rhd_root):
    dataset = RHDDataset(rhd_root, crop=CropConfig(size=64))
    assert [bool(dataset[i].is_left) for i in range(3)] == [False, True, False]
    assert np.abs(back_to_camera(dataset[1]) - LEFT_BIG).max() < 1e-3
    assert np.abs(back_to_camera(dataset[2]) - RIGHT).max() < 1e-3
    forced = RHDDataset(rhd_root, crop=CropConfig(size=64), hand="left", skip_bad=True)
    assert len(forced) == 2 and len(forced.skipped) == 1  # sample 0 has no left hand in view
    assert np.abs(back_to_camera(forced[1]) - LEFT_SMALL).max() < 1e-3


def test_visibility_comes_from_uv_vis(rhd_root):
    def hide_right_thumb_tip(anno):
        anno[0]["uv_vis"][21 + 1, 2] = 0.0  # RHD row 1 of the right hand = thumb tip
    edit_pickle(rhd_root / "training" / "anno_training.pickle", hide_right_thumb_tip)
    visible = RHDDataset(rhd_root, crop=CropConfig(size=64))[0].visible.numpy()
    assert not visible[4] and visible[np.arange(21) != 4].all()


def test_missing_split_folder_is_named(tmp_path):
    with pytest.raises(DatasetError, match="evaluation"):
        RHDDataset(tmp_path, "evaluation")


@pytest.mark.parametrize("edit, message", [
    (lambda anno: anno[1].pop("K"), "missing key 'K'"),
    (lambda anno: anno[1].__setitem__("xyz", np.zeros((21, 3))), r"shape \(21, 3\)"),
])
def test_malformed_annotations_raise_or_are_skipped(rhd_root, edit, message):
    path = rhd_root / "training" / "anno_training.pickle"
    edit_pickle(path, edit)
    with pytest.raises(DatasetError, match=message) as caught:
        RHDDataset(rhd_root)
    assert caught.value.path == str(path)
    dataset = RHDDataset(rhd_root, skip_bad=True)
    assert len(dataset) == 2 and [s.index for s in dataset.skipped] == [1]


def test_a_pickle_with_code_is_refused(rhd_root):
    path = rhd_root / "training" / "anno_training.pickle"
    path.write_bytes(pickle.dumps({0: {"xyz": print}}))
    with pytest.raises(DatasetError, match="refusing"):
        RHDDataset(rhd_root)


def test_truncated_image_is_found_at_index_time(rhd_root):
    image = rhd_root / "training" / "color" / "00002.png"
    truncate_file(image)
    with pytest.raises(DatasetError, match="truncated PNG") as caught:
        RHDDataset(rhd_root)
    assert caught.value.path == str(image)
    assert len(RHDDataset(rhd_root, skip_bad=True)) == 2


def test_hand_out_of_view_is_rejected(tmp_path):
    root = write_rhd(tmp_path, "training", [(None, RIGHT), (None, None)], K)
    with pytest.raises(DatasetError, match="not visible") as caught:
        RHDDataset(root)
    assert caught.value.path.endswith("00001.png")
    dataset = RHDDataset(root, skip_bad=True)
    assert len(dataset) == 1 and len(dataset.skipped) == 1


def test_empty_mask_fails_at_load_time_and_is_skipped(rhd_root):
    mask = rhd_root / "training" / "mask" / "00000.png"
    cv2.imwrite(str(mask), np.zeros((320, 320), np.uint8))
    dataset = RHDDataset(rhd_root, crop=CropConfig(size=64))
    with pytest.raises(DatasetError, match="no mask pixels") as caught:
        dataset[0]
    assert caught.value.path == str(mask)
    skipping = RHDDataset(rhd_root, crop=CropConfig(size=64), skip_bad=True)
    sample = skipping[0]
    assert int(sample.index) == 1  # the next good sample, with its own labels
    assert [s.path for s in skipping.skipped] == [str(mask)]


def test_full_image_without_crop(rhd_root):
    sample = RHDDataset(rhd_root, crop=None)[0]
    assert sample.image.shape == (3, 320, 320)
    assert np.allclose(sample.K.numpy(), K)
    assert np.allclose(sample.keypoints_2d.numpy(), project(K, RIGHT), atol=1e-3)
    assert np.allclose(to_rhd(sample.keypoints_3d.numpy()), to_rhd(RIGHT), atol=1e-3)
