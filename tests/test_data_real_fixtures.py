"""Loaders on the real fixture photos (``tests.data_builders.REAL_HANDS``; skipped when absent)."""
from __future__ import annotations

import json
import pickle
import shutil

import cv2
import numpy as np
import pytest

from core.data.crop import CropConfig, project
from core.data.loaders import Coco2DDataset, PhotoFolderDataset, RHDDataset
from core.hand.joints import BONES, MIDDLE_MCP, WRIST, from_rhd
from tests.data_builders import REAL_HANDS, hull_mask

FREIHAND_LABELS = 32560  # labels in FreiHAND's training split; images = 4 x labels


def real(folder: str):
    path = REAL_HANDS / folder
    if not path.is_dir():
        pytest.skip(f"real hand fixtures not available at {path}")
    return path


@pytest.fixture
def rhd_native(tmp_path):
    """The mmpose RHD test json rewritten into RHD's native layout (pickle, color/, mask/)."""
    source = real("rhd")
    coco = json.loads((source / "test_rhd.json").read_text())
    (tmp_path / "evaluation" / "color").mkdir(parents=True)
    (tmp_path / "evaluation" / "mask").mkdir()
    anno, fixture = {}, []
    for i, (image, hand) in enumerate(zip(coco["images"], coco["annotations"])):
        (fx, fy), (cx, cy) = image["cam_param"]["focal"], image["cam_param"]["princpt"]
        K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
        joints = np.array(hand["joint_cam"])          # (21, 3) mm, RHD order
        keypoints = np.array(hand["keypoints"])       # (21, 3) px + flag, RHD order
        slot = 0 if hand["hand_type"] == "left" else 21
        xyz, uv_vis = np.zeros((42, 3)), np.zeros((42, 3))
        xyz[:, 2] = 1.0                               # the other hand: off-image, invisible
        xyz[:, 0] = 5.0
        xyz[slot:slot + 21] = joints / 1000.0
        uv_vis[slot:slot + 21] = keypoints
        anno[i] = {"xyz": xyz, "uv_vis": uv_vis, "K": K}
        shutil.copy(source / image["file_name"], tmp_path / "evaluation" / "color" / f"{i:05d}.png")
        mask_id = 2 if slot == 0 else 18
        cv2.imwrite(str(tmp_path / "evaluation" / "mask" / f"{i:05d}.png"), hull_mask((320, 320), keypoints[:, :2], mask_id))
        fixture.append((joints, keypoints, hand["hand_type"] == "left"))
    with open(tmp_path / "evaluation" / "anno_evaluation.pickle", "wb") as handle:
        pickle.dump(anno, handle, protocol=2)
    return tmp_path, fixture


def test_rhd_renders_load_with_their_own_labels(rhd_native):
    root, fixture = rhd_native
    whole = RHDDataset(root, "evaluation", crop=None)
    assert len(whole) == len(fixture) == 3
    for sample, (joints, keypoints, is_left) in zip(whole, fixture):
        assert bool(sample.is_left) == is_left
        assert np.abs(sample.keypoints_2d.numpy() - from_rhd(keypoints[:, :2])).max() < 0.5
        internal = sample.keypoints_3d.double().numpy()
        bones = np.array([np.linalg.norm(internal[c] - internal[p]) for p, c in BONES])
        assert 5.0 < bones.min() and bones.max() < 110.0  # mm and a connected skeleton
        assert 60.0 < np.linalg.norm(internal[MIDDLE_MCP] - internal[WRIST]) < 120.0


def test_rhd_crops_keep_2d_and_3d_consistent(rhd_native):
    root, _ = rhd_native
    for sample in RHDDataset(root, "evaluation", crop=CropConfig(size=128)):
        uv = sample.keypoints_2d.double().numpy()
        assert np.abs(project(sample.K.double().numpy(), sample.keypoints_3d.double().numpy()) - uv).max() < 0.5
        assert (uv.max(0) - uv.min(0)).max() == pytest.approx(96.0, rel=0.03)
        assert np.allclose(0.5 * (uv.max(0) + uv.min(0)), [63.5, 63.5], atol=0.05)
        hand = sample.mask[0] > 0.5
        assert 0.1 < float(hand.float().mean()) < 0.8
        assert float(sample.image[:, hand].std()) > 0.02  # real rendered pixels, not black border


def test_freihand_versions_share_labels_on_real_data():
    source = real("freihand")
    coco = json.loads((source / "test_freihand.json").read_text())
    keypoints = {a["image_id"]: np.array(a["keypoints"]) for a in coco["annotations"]}
    groups: dict[int, list[np.ndarray]] = {}
    for image_id, points in keypoints.items():
        groups.setdefault(image_id % FREIHAND_LABELS, []).append(points)
    assert sorted(len(g) for g in groups.values()) == [4, 4]  # image i uses label i % 32,560
    for group in groups.values():
        assert all(np.allclose(points, group[0]) for points in group)


def test_freihand_2d_only_crops():
    source = real("freihand")
    dataset = Coco2DDataset(source / "test_freihand.json", crop=CropConfig(size=128))
    assert len(dataset) == 8
    for sample in dataset:
        assert bool(sample.has_2d) and not bool(sample.has_3d) and sample.visible.all()
        uv = sample.keypoints_2d.numpy()
        assert (uv.max(0) - uv.min(0)).max() == pytest.approx(96.0, rel=0.03)
        assert float(sample.image.std()) > 0.05


def test_unlabelled_photos():
    source = real("unlabelled_photos/gestures")
    dataset = PhotoFolderDataset(source, size=64)
    count = sum(1 for p in source.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    assert len(dataset) == count > 0
    sample = dataset[len(dataset) - 1]
    assert sample.image.shape == (3, 64, 64) and float(sample.image.std()) > 0.02
