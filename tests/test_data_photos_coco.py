"""PhotoFolderDataset (unlabelled) and Coco2DDataset (2D-only weak labels)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core.data.crop import CropConfig, apply_homography, project
from core.data.loaders import Coco2DDataset, DatasetError, PhotoFolderDataset
from core.hand.joints import to_rhd
from tests.data_builders import camera_hand, intrinsics, skeleton_image, truncate_file


def test_photo_folder_centre_crops_every_photo(tmp_path):
    (tmp_path / "a").mkdir()
    wide = np.zeros((60, 100, 3), np.uint8)
    wide[:, 20:80] = (0, 0, 255)  # the centre square is pure red (BGR on disk)
    cv2.imwrite(str(tmp_path / "a" / "wide.png"), wide)
    cv2.imwrite(str(tmp_path / "tall.JPG"), np.full((90, 40, 3), 200, np.uint8))
    (tmp_path / "notes.txt").write_text("not a photo")
    dataset = PhotoFolderDataset(tmp_path, size=32)
    assert len(dataset) == 2
    sample = dataset[0]  # a/wide.png sorts first
    assert sample.image.shape == (3, 32, 32)
    assert np.allclose(sample.image[:, 4:-4, 4:-4].mean(dim=(1, 2)).numpy(), [1.0, 0.0, 0.0], atol=0.02)
    assert not (bool(sample.has_3d) or bool(sample.has_2d) or bool(sample.has_content))
    assert not sample.visible.any() and float(sample.keypoints_2d.abs().max()) == 0.0


def test_photo_folder_bad_files(tmp_path):
    with pytest.raises(DatasetError, match="missing folder"):
        PhotoFolderDataset(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="no .jpg"):
        PhotoFolderDataset(tmp_path)
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.jpg"), skeleton_image((50, 50), np.zeros((0, 2)), seed=i))
    truncate_file(tmp_path / "1.jpg")
    with pytest.raises(DatasetError, match="truncated JPEG") as caught:
        PhotoFolderDataset(tmp_path)
    assert caught.value.path == str(tmp_path / "1.jpg")
    dataset = PhotoFolderDataset(tmp_path, skip_bad=True)
    assert len(dataset) == 2 and [s.index for s in dataset.skipped] == [1]


def write_coco(tmp_path, keypoints_list, with_camera: bool, K=None):
    images, annotations = [], []
    for i, keypoints in enumerate(keypoints_list):
        cv2.imwrite(str(tmp_path / f"{i}.png"), skeleton_image((240, 320), keypoints[:, :2], seed=i))
        record = {"id": 100 + i, "file_name": f"{i}.png", "width": 320, "height": 240}
        if with_camera:
            record["cam_param"] = {"focal": [K[0, 0], K[1, 1]], "princpt": [K[0, 2], K[1, 2]]}
        images.append(record)
        annotations.append({"id": i, "image_id": 100 + i, "keypoints": keypoints.reshape(-1).tolist()})
    path = tmp_path / "hands.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    return path


def test_coco_2d_labels_follow_the_crop(tmp_path):
    K = intrinsics(400.0, 159.5, 119.5)
    hand = camera_hand(seed=4, centre_mm=(60.0, 20.0, 700.0))
    uv = project(K, hand)
    keypoints = np.concatenate([uv, np.ones((21, 1))], axis=1)
    keypoints[20] = 0.0  # OneHand10K-style missing keypoint
    path = write_coco(tmp_path, [keypoints], with_camera=True, K=K)
    dataset = Coco2DDataset(path, crop=CropConfig(size=64))
    sample = dataset[0]
    assert bool(sample.has_2d) and not bool(sample.has_3d)
    assert not bool(sample.visible[20]) and sample.visible[:20].all()
    assert np.allclose(sample.K.numpy()[:2, 2], [31.5, 31.5])
    # the same 2D as the 3D path would give: the homography of the virtual camera
    homography = sample.K.double().numpy() @ sample.crop_rotation.double().numpy() @ np.linalg.inv(K)
    assert np.abs(sample.keypoints_2d.numpy()[:20] - apply_homography(homography, uv[:20])).max() < 1e-3
    crop_uv = sample.keypoints_2d.numpy()[:20]
    assert (crop_uv.max(0) - crop_uv.min(0)).max() == pytest.approx(48.0, rel=0.03)  # missing point ignored


def test_coco_rhd_order_and_nominal_camera(tmp_path):
    K = intrinsics(400.0, 159.5, 119.5)
    uv = project(K, camera_hand(seed=5, centre_mm=(0.0, 0.0, 600.0)))
    keypoints = np.concatenate([to_rhd(uv), np.ones((21, 1))], axis=1)
    dataset = Coco2DDataset(write_coco(tmp_path, [keypoints], with_camera=False), joint_order="rhd", crop=None)
    sample = dataset[0]
    assert np.allclose(sample.keypoints_2d.numpy(), uv, atol=1e-4)  # internal order again
    assert sample.K[0, 0] == 320  # nominal focal: the longer image side


def test_coco_bad_annotations(tmp_path):
    K = intrinsics(400.0, 159.5, 119.5)
    uv = project(K, camera_hand(seed=6, centre_mm=(0.0, 0.0, 600.0)))
    good = np.concatenate([uv, np.ones((21, 1))], axis=1)
    hidden = good.copy()
    hidden[:, 2] = 0
    path = write_coco(tmp_path, [good, good[:20], hidden], with_camera=False)
    with pytest.raises(DatasetError, match=r"annotation 1 keypoints' has shape \(60,\)"):
        Coco2DDataset(path)
    dataset = Coco2DDataset(path, skip_bad=True)
    assert len(dataset) == 1
    assert [(s.index, "not visible" in s.problem) for s in dataset.skipped] == [(1, False), (2, True)]
    path.write_text(json.dumps({"images": []}))
    with pytest.raises(DatasetError, match="not a COCO keypoint file"):
        Coco2DDataset(path)
