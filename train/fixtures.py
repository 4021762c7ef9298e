"""The real fixture photos (read for tests and measurements, never trained or tuned on).

``fixture_photos`` gives each labelled photo with its hands' *visible* keypoints (``LabelledHand``):
OneHand10K, CMU Panoptic, FreiHAND, RHD (COCO keypoint json, ``core.data.loaders.Coco2DDataset``)
and InterHand2.6M (``core.data.loaders.interhand``); images with the same pixels (Panoptic's
``_l`` / ``_r`` files) are one photo with all their hands. ``unlabelled_photos`` gives the
unlabelled ones. A 2D error per joint needs to know which joint each keypoint is, and
InterHand2.6M's 3D error needs the 3D labels: ``fixture_hands`` reads both again from the loaders
(with ``crop=None``) and pairs them with the photos' hands by their visible keypoints. Joints are
in the internal order (``core.hand.joints``, FreiHAND order). ``crop_rotation`` is the app's crop.

The photos live outside the project (a clone lacks them); tools that need them take
``--fixtures DIR`` and say so when it is absent.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.crop import look_at_rotation
from core.data.loaders import Coco2DDataset
from core.data.loaders.common import read_image_rgb
from core.data.loaders.interhand import read_interhand_frames
from core.hand.joints import NUM_JOINTS
from train.hand_finder.match import LabelledHand, Photo

DEFAULT_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real_hands"
COCO_SETS = (("onehand10k", "freihand"), ("panoptic", "freihand"), ("freihand", "freihand"), ("rhd", "rhd"))


def _side_of(dataset: str, file_name: str, annotation: dict) -> bool | None:
    """The labelled side of a fixture hand where its dataset says it (None: unknown)."""
    if dataset == "rhd":
        return annotation.get("hand_type") == "left"
    if dataset == "panoptic":  # CMU's hand files end in _l / _r
        return Path(file_name).stem.endswith("_l")
    if dataset == "freihand":  # FreiHAND holds right hands only
        return False
    return None


def fixture_photos(root: Path) -> list[Photo]:
    """Every labelled photo under ``root`` (see the module docstring), merged by pixels."""
    photos: dict[str, Photo] = {}
    for dataset, order in COCO_SETS:
        folder = root / dataset
        annotation_file = folder / f"test_{dataset}.json"
        if not annotation_file.is_file():
            continue
        raw = json.loads(annotation_file.read_text())
        annotations = raw["annotations"]
        loader = Coco2DDataset(annotation_file, joint_order=order, crop=None)
        for position in range(len(loader)):
            sample = loader[position]
            path = loader.image_path(position)
            number = loader._source_id(position)  # noqa: SLF001 - the annotation's index in the json
            visible = sample.visible.numpy().astype(bool)
            keypoints = sample.keypoints_2d.numpy().astype(np.float64)[visible]
            image = read_image_rgb(path)
            key = hashlib.md5(image.tobytes()).hexdigest()
            photo = photos.setdefault(key, Photo(dataset, path.name, image))
            photo.hands.append(LabelledHand(keypoints, _side_of(dataset, path.name, annotations[number])))
    interhand = root / "interhand2.6m"
    if interhand.is_dir():
        for frame in read_interhand_frames(interhand):
            if frame.hands:
                photos[str(frame.path)] = Photo("interhand2.6m", frame.path.name, frame.image,
                                                [LabelledHand(h.keypoints_2d, h.is_left) for h in frame.hands])
    return list(photos.values())


def unlabelled_photos(root: Path) -> list[Photo]:
    """Every image under ``root / "unlabelled_photos"`` (HaGRID gestures, HaMeR), no labels."""
    folder = root / "unlabelled_photos"
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")) if folder.is_dir() else []
    return [Photo(path.parent.name, path.name, read_image_rgb(path)) for path in paths]



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
