"""FreiHANDDataset and the FreiHAND-layout writer on tiny fixtures."""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from core.data.crop import CropConfig, project
from core.data.loaders import (
    DatasetError,
    FreiHANDDataset,
    check_image_file,
    freihand_image_path,
    write_freihand_layout,
)
from tests.data_builders import camera_hand, intrinsics, skeleton_image, truncate_file

K = intrinsics(480.0, 111.5, 111.5)
HANDS = np.stack([camera_hand(seed=i, centre_mm=(10.0 * i, -5.0, 650.0)) for i in range(2)])


def back_to_camera(sample) -> np.ndarray:
    return sample.keypoints_3d.double().numpy() @ sample.crop_rotation.double().numpy()


def write_split(root, split="training", versions=1):
    images = [cv2.cvtColor(skeleton_image((224, 224), project(K, hand), seed=i), cv2.COLOR_BGR2RGB)
              for i, hand in enumerate(HANDS)]
    write_freihand_layout(root, split, images, np.stack([K, K]), HANDS / 1000.0)
    for version in range(1, versions):  # FreiHAND: the same labels over other backgrounds
        for label in range(len(HANDS)):
            shutil.copy(freihand_image_path(root, split, label), freihand_image_path(root, split, version * len(HANDS) + label))
    return root


def test_writer_round_trip(tmp_path):
    write_split(tmp_path, "evaluation")
    assert np.allclose(json.loads((tmp_path / "evaluation_xyz.json").read_text())[1], HANDS[1] / 1000.0)
    dataset = FreiHANDDataset(tmp_path, "evaluation", crop=CropConfig(size=64))
    assert len(dataset) == 2
    sample = dataset[1]
    assert sample.image.shape == (3, 64, 64) and not bool(sample.is_left)
    assert np.abs(back_to_camera(sample) - HANDS[1]).max() < 1e-3  # metres -> mm
    assert np.abs(project(sample.K.numpy(), sample.keypoints_3d.numpy()) - sample.keypoints_2d.numpy()).max() < 0.5


def test_four_versions_per_label(tmp_path):
    dataset = FreiHANDDataset(write_split(tmp_path, versions=4), crop=CropConfig(size=48))
    assert dataset.num_labels == 2 and dataset.versions == 4 and len(dataset) == 8
    assert [dataset.label_index(i) for i in range(8)] == [0, 1, 0, 1, 0, 1, 0, 1]
    for i in (2, 5, 7):
        assert np.abs(back_to_camera(dataset[i]) - HANDS[i % 2]).max() < 1e-3


def test_missing_version_image_is_reported(tmp_path):
    write_split(tmp_path, versions=4)
    missing = freihand_image_path(tmp_path, "training", 6)
    missing.unlink()
    with pytest.raises(DatasetError, match="missing image") as caught:
        FreiHANDDataset(tmp_path)
    assert caught.value.path == str(missing)
    dataset = FreiHANDDataset(tmp_path, skip_bad=True)
    assert len(dataset) == 7 and [s.index for s in dataset.skipped] == [6]


def test_hand_masks_are_read_per_label(tmp_path):
    write_split(tmp_path, versions=2)
    (tmp_path / "training" / "mask").mkdir()
    cv2.imwrite(str(tmp_path / "training" / "mask" / "00000001.jpg"), np.full((224, 224), 255, np.uint8))
    dataset = FreiHANDDataset(tmp_path, crop=None)
    assert float(dataset[3].mask.mean()) == pytest.approx(1.0, abs=0.02)  # image 3 -> label 1
    assert float(dataset[2].mask.abs().max()) == 0.0                      # label 0 has no mask


def test_missing_label_file_and_folder(tmp_path):
    write_split(tmp_path)
    (tmp_path / "training_xyz.json").unlink()
    with pytest.raises(DatasetError, match="training_xyz.json: missing file"):
        FreiHANDDataset(tmp_path)
    with pytest.raises(DatasetError, match="evaluation/rgb: missing folder"):
        FreiHANDDataset(tmp_path, "evaluation")


def test_malformed_label_entry(tmp_path):
    write_split(tmp_path, versions=2)
    path = tmp_path / "training_xyz.json"
    labels = json.loads(path.read_text())
    labels[1] = labels[1][:20]
    path.write_text(json.dumps(labels))
    with pytest.raises(DatasetError, match=r"xyz entry 1' has shape \(20, 3\)") as caught:
        FreiHANDDataset(tmp_path)
    assert caught.value.path == str(path)
    dataset = FreiHANDDataset(tmp_path, skip_bad=True)
    assert len(dataset) == 2 and sorted(s.index for s in dataset.skipped) == [1, 3]
    path.write_text("{not json")
    with pytest.raises(DatasetError, match="not valid JSON"):
        FreiHANDDataset(tmp_path)


def test_label_count_mismatch(tmp_path):
    write_split(tmp_path)
    (tmp_path / "training_K.json").write_text(json.dumps([K.tolist()]))
    with pytest.raises(DatasetError, match="2 joint sets but 1 intrinsics"):
        FreiHANDDataset(tmp_path)


def test_truncated_jpeg_is_detected_although_opencv_decodes_it(tmp_path):
    write_split(tmp_path)
    image = freihand_image_path(tmp_path, "training", 1)
    truncate_file(image, 0.7)
    assert cv2.imread(str(image)) is not None  # why the byte-level check exists
    with pytest.raises(DatasetError, match="truncated JPEG") as caught:
        check_image_file(image)
    assert caught.value.path == str(image)
    dataset = FreiHANDDataset(tmp_path, skip_bad=True)
    assert len(dataset) == 1 and dataset.skipped[0].problem.startswith("truncated JPEG")


def test_late_decoding_failure_is_raised_or_skipped(tmp_path):
    write_split(tmp_path)
    image = freihand_image_path(tmp_path, "training", 0)
    data = bytearray(image.read_bytes())
    data[2:40] = b"\x00" * 38  # complete file (ends with FFD9) but a destroyed header
    image.write_bytes(bytes(data))
    dataset = FreiHANDDataset(tmp_path, skip_bad=True)  # only the first image decodes the size
    assert len(dataset) == 2
    sample = dataset[0]
    assert int(sample.index) == 1 and [s.index for s in dataset.skipped] == [0]
    with pytest.raises(DatasetError, match="could not be decoded"):
        FreiHANDDataset(tmp_path)


def test_hand_outside_the_image_is_rejected(tmp_path):
    write_split(tmp_path)
    path = tmp_path / "training_xyz.json"
    labels = json.loads(path.read_text())
    labels[0] = (np.array(labels[0]) + [5.0, 0.0, 0.0]).tolist()  # 5 m to the side
    path.write_text(json.dumps(labels))
    with pytest.raises(DatasetError, match="hand not visible") as caught:
        FreiHANDDataset(tmp_path)
    assert caught.value.path == str(freihand_image_path(tmp_path, "training", 0))
