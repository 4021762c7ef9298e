"""Boxes of found hands: the training crops' framing, overlap, peak decoding and suppression.

Boxes are ``(x0, y0, x1, y1)`` floats in image pixels (corners of the square, pixel centres at
integers as everywhere in the project); a hand's box is square, centred on its 2D keypoints' box,
with side ``BOX_MARGIN`` x that box's longer side (``core.data.crop``'s framing).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.finder.config import BOX_MARGIN


@dataclass(frozen=True)
class Detection:
    """One found hand: ``box`` (x0, y0, x1, y1) px, ``score`` in [0, 1] (how many of the hand's
    cells agree on it, ``decode_votes``), ``is_left`` the side of the hand, ``side_score`` in
    [0.5, 1]: how sure its cells are of that side."""

    box: tuple[float, float, float, float]
    score: float
    is_left: bool
    side_score: float = 1.0

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


def decode_votes(coverage: torch.Tensor, side: torch.Tensor, vector: torch.Tensor, size: torch.Tensor, stride: int,
                 threshold: float, limit: int, min_coverage: float = 0.5) -> list[Detection]:
    """Detections of ONE image from the network's outputs (no batch axis; ``core.finder.net``).

    coverage, side, size: (1, h, w); vector: (2, h, w). Every cell whose coverage exceeds
    ``min_coverage`` votes, with its coverage as weight, for the centre it points at; the vote
    map (bilinear, lightly blurred) peaks at hand centres (3x3 maximum). A peak's voters (those
    landing within 0.2 box sides) give the box: their weighted mean centre and log side, their
    mean left-hand probability, and the score ``min(1, votes / (0.12 (side / stride)^2 + 2))``:
    about half the cells a hand of that size covers pointing at one centre scores 1. Boxes are
    in the network input's pixels.
    """
    p = torch.sigmoid(coverage[0].float())
    h, w = p.shape
    ys, xs = torch.nonzero(p > min_coverage, as_tuple=True)
    if len(ys) == 0:
        return []
    weight = p[ys, xs]
    log_side = size[0, ys, xs].float()
    side_px = torch.exp(log_side)
    cx = (xs + 0.5) * stride - 0.5 + vector[0, ys, xs].float() * side_px
    cy = (ys + 0.5) * stride - 0.5 + vector[1, ys, xs].float() * side_px
    u, v = (cx + 0.5) / stride - 0.5, (cy + 0.5) / stride - 0.5  # in cells
    u0, v0 = torch.floor(u), torch.floor(v)
    votes = torch.zeros(h * w)
    for du, dv in ((0, 0), (1, 0), (0, 1), (1, 1)):
        q, r = u0 + du, v0 + dv
        share = (1 - (u - q).abs()) * (1 - (v - r).abs()) * weight
        inside = (q >= 0) & (q < w) & (r >= 0) & (r < h)
        votes.index_add_(0, (r * w + q)[inside].long(), share[inside])
    votes = votes.view(1, 1, h, w)
    kernel = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0
    votes = F.conv2d(votes, kernel.view(1, 1, 3, 3), padding=1)[0, 0]
    peaks = (votes == F.max_pool2d(votes[None, None], 3, stride=1, padding=1)[0, 0]) & (votes >= 0.5)
    values = torch.where(peaks, votes, torch.zeros_like(votes)).flatten()
    count = int(min(2 * limit, int((values > 0).sum())))
    left_p = torch.sigmoid(side[0, ys, xs].float())
    out = []
    for index in values.topk(count).indices.tolist() if count else []:
        r, q = divmod(index, w)
        near = torch.hypot(u - q, v - r) <= torch.clamp(0.2 * side_px / stride, min=1.5)
        mass = float(weight[near].sum())
        if mass <= 0:
            continue
        wn = weight[near] / mass
        box_side = float(torch.exp((wn * log_side[near]).sum()))
        score = min(1.0, mass / (0.12 * (box_side / stride) ** 2 + 2.0))
        if score < threshold:
            continue
        x, y = float((wn * cx[near]).sum()), float((wn * cy[near]).sum())
        left = float((wn * left_p[near]).sum())
        half = 0.5 * box_side
        out.append(Detection((x - half, y - half, x + half, y + half), score, left > 0.5, max(left, 1 - left)))
    return out


def suppress(detections: list[Detection], same_side_iou: float, cross_side_iou: float,
             limit: int) -> list[Detection]:
    """Best first; drop a detection overlapping a kept one by more than the IoU of its kind."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        if all(box_iou(det.box, k.box) <= (same_side_iou if k.is_left == det.is_left else cross_side_iou)
               for k in kept):
            kept.append(det)
        if len(kept) == limit:
            break
    return kept
