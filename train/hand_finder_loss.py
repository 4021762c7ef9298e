"""Targets and objective of the hand finder (CenterNet's: focal loss on centre heatmaps, L1 on the
log box side and the sub-cell offset at each hand's centre cell)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.finder.config import HandFinderConfig
from core.finder.net import LEFT, RIGHT
from train.hand_finder_data import Canvas


@dataclass
class Targets:
    """Dense targets of a batch at the output resolution (h = H / stride).

    heatmap: (B, 2, h, w) Gaussians, exactly 1 at each hand's centre cell (channel = its side);
    weight: (B, 1, h, w) 0 inside the boxes of ignored (too hidden) hands, else 1;
    centre: (B, 1, h, w) 1 at centre cells; size: (B, 1, h, w) log box side px there;
    offset: (B, 2, h, w) sub-cell centre position there; coverage: (B, 1, h, w) share of each
    cell covered by a visible hand.
    """

    heatmap: torch.Tensor
    weight: torch.Tensor
    centre: torch.Tensor
    size: torch.Tensor
    offset: torch.Tensor
    coverage: torch.Tensor


def make_targets(canvases: list[Canvas], config: HandFinderConfig) -> Targets:
    """Targets for canvases of side ``config.input_size``."""
    s, b = config.stride, len(canvases)
    h = w = canvases[0].image.shape[0] // s
    heat = np.zeros((b, 2, h, w), np.float32)
    weight = np.ones((b, 1, h, w), np.float32)
    centre = np.zeros((b, 1, h, w), np.float32)
    size = np.zeros((b, 1, h, w), np.float32)
    offset = np.zeros((b, 2, h, w), np.float32)
    ys, xs = np.mgrid[0:h, 0:w]
    for i, canvas in enumerate(canvases):
        for box in canvas.ignored:
            x0, y0, x1, y1 = (int(math.floor((v + 0.5) / s)) for v in box)
            weight[i, 0, max(y0, 0):max(y1 + 1, 0), max(x0, 0):max(x1 + 1, 0)] = 0.0
        for box, is_left, _ in canvas.hands:
            cx, cy = (0.5 * (box[0] + box[2]) + 0.5) / s, (0.5 * (box[1] + box[3]) + 0.5) / s
            q, r = min(int(cx), w - 1), min(int(cy), h - 1)
            side_cells = (box[2] - box[0]) / s
            sigma = max(0.7, (0.2 * side_cells + 1.0) / 6.0)
            gauss = np.exp(-((xs - q) ** 2 + (ys - r) ** 2) / (2 * sigma**2))
            channel = LEFT if is_left else RIGHT
            np.maximum(heat[i, channel], gauss, out=heat[i, channel])
            weight[i, 0, r, q] = 1.0
            centre[i, 0, r, q] = 1.0
            size[i, 0, r, q] = math.log(max(box[2] - box[0], 1.0))
            offset[i, :, r, q] = (cx - q, cy - r)
    cover = np.stack([c.coverage.reshape(h, s, w, s).mean(axis=(1, 3)) for c in canvases])[:, None]
    t = torch.from_numpy
    return Targets(t(heat), t(weight), t(centre), t(size), t(offset), t(cover.astype(np.float32)))


def finder_loss(heatmap: torch.Tensor, size: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor,
                targets: Targets, size_weight: float = 1.0, offset_weight: float = 1.0,
                mask_weight: float = 1.0) -> dict[str, torch.Tensor]:
    """Named terms and ``total``: network outputs (B, 2|1|2|1, h, w) against ``targets``."""
    p = torch.sigmoid(heatmap).clamp(1e-4, 1 - 1e-4)
    positive = targets.heatmap.eq(1.0).float()
    negative = (1.0 - positive) * targets.weight
    pos_term = torch.log(p) * (1 - p) ** 2 * positive
    neg_term = torch.log(1 - p) * p**2 * (1 - targets.heatmap) ** 4 * negative
    count = positive.sum().clamp(min=1.0)
    focal = -(pos_term.sum() + neg_term.sum()) / count
    centres = targets.centre
    n = centres.sum().clamp(min=1.0)
    size_l1 = ((size - targets.size).abs() * centres).sum() / n
    offset_l1 = ((offset - targets.offset).abs() * centres).sum() / n
    coverage = F.binary_cross_entropy_with_logits(mask, targets.coverage)
    total = focal + size_weight * size_l1 + offset_weight * offset_l1 + mask_weight * coverage
    return {"total": total, "focal": focal, "size": size_l1, "offset": offset_l1, "coverage": coverage}
