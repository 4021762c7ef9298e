"""The labelled hands of the real fixture photos with their joint identities, and the app's crop.

``train.hand_finder_eval.fixture_photos`` gives each photo with its hands' *visible* keypoints
(``LabelledHand``); a 2D error per joint needs to know which joint each is, and InterHand2.6M's
3D error needs the 3D labels. ``fixture_hands`` reads both again from the loaders
(``core.data.loaders.Coco2DDataset`` with ``crop=None``, ``read_interhand_frames``) and pairs
them with the photos' hands by their visible keypoints. Joints are in the internal order
(``core.hand.joints``, FreiHAND order).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.crop import look_at_rotation
from core.data.loaders import Coco2DDataset
from core.data.loaders.interhand import read_interhand_frames
from core.hand.joints import NUM_JOINTS
from train.hand_finder_eval import COCO_SETS, Photo, fixture_photos
from train.hand_finder_match import LabelledHand


@dataclass
class JointLabels:
    """keypoints_2d (21, 2) px in the photo; visible (21,) bool; keypoints_3d (21, 3) mm in the
    photo's camera frame and its intrinsics K (3, 3), or None where the dataset has no 3D here."""

    keypoints_2d: np.ndarray
    visible: np.ndarray
    keypoints_3d: np.ndarray | None = None
    K: np.ndarray | None = None


@dataclass
class FixtureHand:
    """One labelled hand of a photo: ``hand`` as ``fixture_photos`` gives it, ``joints`` its labels."""

    hand: LabelledHand
    joints: JointLabels

    @property
    def is_left(self) -> bool | None:
        return self.hand.is_left

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The training crops' framing of the visible keypoints (``core.finder.keypoint_box``)."""
        return self.hand.box


@dataclass
class FixturePhoto:
    """A photo (``Photo``: dataset, name, image (H, W, 3) uint8) and its hands, in ``photo.hands`` order."""

    photo: Photo
    hands: list[FixtureHand]


def joint_labels(root: Path) -> list[JointLabels]:
    """Every labelled hand's joint labels under ``root`` (COCO sets, then InterHand2.6M)."""
    labels = []
    for dataset, order in COCO_SETS:
        annotation_file = root / dataset / f"test_{dataset}.json"
        if not annotation_file.is_file():
            continue
        loader = Coco2DDataset(annotation_file, joint_order=order, crop=None)
        for position in range(len(loader)):
            sample = loader[position]
            labels.append(JointLabels(sample.keypoints_2d.numpy().astype(np.float64),
                                      sample.visible.numpy().astype(bool)))
    interhand = root / "interhand2.6m"
    if interhand.is_dir():
        for frame in read_interhand_frames(interhand):
            labels += [JointLabels(np.asarray(h.keypoints_2d, np.float64), np.ones(NUM_JOINTS, bool),
                                   np.asarray(h.keypoints_3d, np.float64), frame.K) for h in frame.hands]
    return labels


def _labels_of(hand: LabelledHand, labels: list[JointLabels]) -> JointLabels:
    """The joint labels whose visible keypoints are ``hand.keypoints``; ValueError if none."""
    for candidate in labels:
        points = candidate.keypoints_2d[candidate.visible]
        if points.shape == hand.keypoints.shape and np.allclose(points, hand.keypoints, rtol=0.0, atol=1e-6):
            return candidate
    raise ValueError(f"no joint labels for a hand with {len(hand.keypoints)} keypoints at {hand.keypoints[0]}")


def fixture_hands(root: Path) -> list[FixturePhoto]:
    """Every labelled fixture photo under ``root`` (``fixture_photos``) with its hands' joint labels."""
    labels = joint_labels(root)
    return [FixturePhoto(photo, [FixtureHand(h, _labels_of(h, labels)) for h in photo.hands])
            for photo in fixture_photos(root)]


def crop_rotation(K: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Original -> crop camera rotation (3, 3) of a crop framed by ``box`` (x0, y0, x1, y1) px: the
    camera turned to look through the box centre, as the training crops' (``core.data.crop``).
    The axis-aligned crop approximates that turned camera's view."""
    centre = np.array([0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3]), 1.0])
    return look_at_rotation(np.linalg.inv(np.asarray(K, np.float64)) @ centre)
