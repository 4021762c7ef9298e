"""When a labelled hand counts as found (the issue's measure), shared by the trainer and
``train.hand_finder.eval``.

A labelled hand is found when a detection, matched one-to-one best score first, has IoU >= 0.5
with the hand's box (``core.finder.keypoint_box`` of its labelled keypoints: the training crops'
framing) and holds every labelled keypoint inside its box.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.data.loaders.common import points_inside
from core.finder.boxes import Detection, box_iou, keypoint_box

MIN_IOU = 0.5


@dataclass
class LabelledHand:
    """keypoints (J, 2) px of the labelled (visible) joints; is_left None when not labelled."""

    keypoints: np.ndarray
    is_left: bool | None = None
    cut: bool = False  # part of the hand lies outside the picture (a composite cut by its border)

    @property
    def box(self) -> tuple[float, float, float, float]:
        return keypoint_box(self.keypoints)


@dataclass
class Photo:
    """One image and every labelled hand in it."""

    dataset: str
    name: str
    image: np.ndarray
    hands: list[LabelledHand] = field(default_factory=list)


@dataclass
class MatchResult:
    """found[i]: hand i found; side_right[i]: its detection's side is right (None: unknown or not
    found); iou[i]: IoU of its detection (0 if none); extra: detections matching no hand;
    first_is_hand: the best-scoring detection found a hand."""

    found: list[bool]
    side_right: list[bool | None]
    iou: list[float]
    extra: int
    first_is_hand: bool = False  # the best detection found a hand (what the app frames on opening)


def inside_picture(keypoints: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The keypoints (J, 2) inside an image of ``shape`` (H, W, ...): a label outside the picture
    cannot be checked, so a hand cut by the border is framed by the part in view (all of them
    when none is inside)."""
    keep = points_inside(keypoints, (shape[1], shape[0]))
    return keypoints[keep] if keep.any() else keypoints


def holds(box: tuple[float, ...], points: np.ndarray) -> bool:
    """Every point (J, 2) inside the box (x0, y0, x1, y1)."""
    p = np.asarray(points, np.float64)
    return bool(((p[:, 0] >= box[0]) & (p[:, 0] <= box[2]) & (p[:, 1] >= box[1]) & (p[:, 1] <= box[3])).all())


def match(detections: list[Detection], hands: list[LabelledHand]) -> MatchResult:
    """One-to-one: each detection, best first, takes the unmatched hand it overlaps most among
    those it finds (IoU >= ``MIN_IOU`` and every keypoint inside)."""
    found = [False] * len(hands)
    side: list[bool | None] = [None] * len(hands)
    ious = [0.0] * len(hands)
    extra = 0
    first = False
    boxes = [h.box for h in hands]
    for rank, det in enumerate(sorted(detections, key=lambda d: -d.score)):
        best, best_iou = -1, MIN_IOU
        for i, (hand, box) in enumerate(zip(hands, boxes)):
            iou = box_iou(det.box, box)
            if not found[i] and iou >= best_iou and holds(det.box, hand.keypoints):
                best, best_iou = i, iou
        if best < 0:
            extra += 1
            continue
        found[best], ious[best] = True, best_iou
        first = first or rank == 0
        if hands[best].is_left is not None:
            side[best] = det.is_left == hands[best].is_left
    return MatchResult(found, side, ious, extra, first)
