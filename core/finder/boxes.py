"""Boxes of found hands: the training crops' framing, overlap and suppression.

Boxes are ``(x0, y0, x1, y1)`` floats in image pixels (corners of the square, pixel centres at
integers as everywhere in the project); a hand's box is square, centred on its 2D keypoints' box,
with side ``BOX_MARGIN`` x that box's longer side (``core.data.crop``'s framing).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from core.finder.config import BOX_MARGIN

FINDER, MEDIAPIPE = "finder", "mediapipe"  # Detection.source: which detector found a hand


@dataclass(frozen=True)
class Detection:
    """One found hand: ``box`` (x0, y0, x1, y1) px, ``score`` in [0, 1] (the network's
    probability that the box frames a hand, ``core.finder.net``), ``is_left`` the side of the
    hand, ``side_score`` in [0.5, 1]: how sure the network is of that side; ``source`` which
    detector found it: ``"finder"`` (the project's, ``core.finder.finder``) or ``"mediapipe"``
    (``core.finder.mediapipe_hands``). A MediaPipe detection also carries ``landmarks`` (21, 2)
    px, the 21 image landmarks MediaPipe placed (internal = MediaPipe joint order, photo pixels,
    pixel centres at integers), and ``world_landmarks`` (21, 3) mm, its own 3D estimate (wrist at
    0, camera orientation); the project's finder's detections have neither (None)."""

    box: tuple[float, float, float, float]
    score: float
    is_left: bool
    side_score: float = 1.0
    source: str = FINDER
    landmarks: np.ndarray | None = field(default=None, compare=False, repr=False)
    world_landmarks: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def centre(self) -> tuple[float, float]:
        return 0.5 * (self.box[0] + self.box[2]), 0.5 * (self.box[1] + self.box[3])

    @property
    def side(self) -> float:
        """Side of the square box, px."""
        return self.box[2] - self.box[0]

    @property
    def crop(self) -> tuple[float, float, float]:
        """The box as the app's crop (x, y, side): top-left corner and side."""
        return self.box[0], self.box[1], self.side

    @property
    def hand(self) -> str:
        return "left" if self.is_left else "right"

    @property
    def by_mediapipe(self) -> bool:
        return self.source == MEDIAPIPE

    @property
    def evidence(self) -> str:
        """Why the box is there, in words: "found by MediaPipe", or the finder's "score 0.93"."""
        return "found by MediaPipe" if self.by_mediapipe else f"score {self.score:.2f}"


def keypoint_box(keypoints_2d: np.ndarray, visible: np.ndarray | None = None,
                 margin: float = BOX_MARGIN) -> tuple[float, float, float, float]:
    """The square box a training crop frames around keypoints (J, 2) px (the ``visible`` rows)."""
    points = np.asarray(keypoints_2d, np.float64).reshape(-1, 2)
    if visible is not None:
        points = points[np.asarray(visible, bool).reshape(-1)]
    if len(points) == 0:
        raise ValueError("keypoint_box needs at least one keypoint")
    low, high = points.min(axis=0), points.max(axis=0)
    centre, half = 0.5 * (low + high), 0.5 * margin * float((high - low).max())
    return (float(centre[0] - half), float(centre[1] - half), float(centre[0] + half), float(centre[1] + half))


def box_iou(a: tuple[float, ...] | np.ndarray, b: tuple[float, ...] | np.ndarray) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Boxes (N, 4) x (M, 4) -> (N, M) IoU (``box_iou`` for every pair)."""
    if len(b) == 0:
        return np.zeros((len(a), 0))
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)  # as box_iou: 0 for empty


def suppress(detections: list[Detection], same_side_iou: float, cross_side_iou: float,
             limit: int, merge_power: float = 0.0, min_evidence: float = 0.0) -> list[Detection]:
    """Best first; drop a detection overlapping a kept one by more than the IoU of its kind.

    With ``merge_power`` > 0 a kept box becomes the mean of itself and the boxes it drops,
    weighted by score ** merge_power (many refined windows end around one hand, each a little
    off; their weighted mean frames it better than the best-scoring one alone).
    With ``min_evidence`` > 0 a kept box scores 1 - prod(1 - score) over itself and the boxes it
    drops (a hand gathers several windows, a false spot mostly one), is dropped under
    ``min_evidence``, and the boxes are ordered by that score."""
    ordered = sorted(detections, key=lambda d: -d.score)
    boxes = np.array([d.box for d in ordered], np.float64).reshape(-1, 4)
    scores = np.array([d.score for d in ordered], np.float64)
    overlap = iou_matrix(boxes, boxes)
    left = np.array([d.is_left for d in ordered], bool)
    used = np.zeros(len(ordered), bool)
    kept: list[Detection] = []
    for i, det in enumerate(ordered):
        if used[i]:
            continue
        members = ~used & (overlap[i] > np.where(left == left[i], same_side_iou, cross_side_iou))
        members[i] = True
        used |= members
        if merge_power > 0 and members.sum() > 1:
            weights = scores[members] ** merge_power
            det = dataclasses.replace(det, box=tuple(float(v) for v in (boxes[members] * weights[:, None]).sum(0)
                                                     / weights.sum()))
        if min_evidence > 0:
            det = dataclasses.replace(det, score=float(1.0 - np.prod(1.0 - scores[members])))
            if det.score < min_evidence:
                continue
        kept.append(det)
    kept.sort(key=lambda d: -d.score)
    return kept[:limit]
