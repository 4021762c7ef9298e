"""Targets and objective of the hand finder: dense, every hand cell is trained (``core.finder.net``).

Per output cell (stride s): coverage = the share of the cell a visible hand covers (binary cross
entropy everywhere); at cells mostly covered by one labelled hand: the vector to its box centre
over its box side and the log box side (L1), and its side (binary cross entropy).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.finder.config import HandFinderConfig
from train.hand_finder_data import Canvas

OWNED = 0.5  # a cell votes for the hand covering at least this share of it


@dataclass
class Targets:
    """Dense targets of a batch at the output resolution (h = H / stride).

    coverage: (B, 1, h, w) share of each cell covered by a visible hand;
    owned: (B, 1, h, w) 1 where one labelled hand covers >= ``OWNED`` of the cell;
    vector: (B, 2, h, w) (box centre - cell centre) / box side there; size: (B, 1, h, w) log box
    side px there; left: (B, 1, h, w) 1 for a left hand there.
    """

    coverage: torch.Tensor
    owned: torch.Tensor
    vector: torch.Tensor
    size: torch.Tensor
    left: torch.Tensor

    def to(self, device: torch.device, non_blocking: bool = False) -> "Targets":
        return Targets(*(t.to(device, non_blocking=non_blocking) for t in
                         (self.coverage, self.owned, self.vector, self.size, self.left)))


def make_targets(canvases: list[Canvas], config: HandFinderConfig) -> Targets:
    """Targets for canvases of side ``config.input_size``."""
    s, b = config.stride, len(canvases)
    h = w = canvases[0].image.shape[0] // s
    coverage = np.zeros((b, 1, h, w), np.float32)
    owned = np.zeros((b, 1, h, w), np.float32)
    vector = np.zeros((b, 2, h, w), np.float32)
    size = np.zeros((b, 1, h, w), np.float32)
    left = np.zeros((b, 1, h, w), np.float32)
    centres_x = (np.arange(w) + 0.5) * s - 0.5
    centres_y = (np.arange(h) + 0.5) * s - 0.5
    for i, canvas in enumerate(canvases):
        coverage[i, 0] = canvas.coverage.reshape(h, s, w, s).mean(axis=(1, 3))
        for (box, is_left, _), alpha in zip(canvas.hands, canvas.hand_coverage):
            mine = alpha.reshape(h, s, w, s).mean(axis=(1, 3)) >= OWNED
            side = box[2] - box[0]
            vector[i, 0][mine] = ((0.5 * (box[0] + box[2]) - centres_x[None, :]) / side).repeat(h, 0)[mine]
            vector[i, 1][mine] = ((0.5 * (box[1] + box[3]) - centres_y[:, None]) / side).repeat(w, 1)[mine]
            size[i, 0][mine] = math.log(max(side, 1.0))
            left[i, 0][mine] = float(is_left)
            owned[i, 0][mine] = 1.0
    t = torch.from_numpy
    return Targets(t(coverage), t(owned), t(vector), t(size), t(left))


def finder_loss(coverage: torch.Tensor, side: torch.Tensor, vector: torch.Tensor, size: torch.Tensor,
                targets: Targets) -> dict[str, torch.Tensor]:
    """Named terms and ``total``: network outputs (B, 1|1|2|1, h, w) against ``targets``."""
    cover = F.binary_cross_entropy_with_logits(coverage, targets.coverage)
    owned = targets.owned
    n = owned.sum().clamp(min=1.0)
    vector_l1 = ((vector - targets.vector).abs() * owned).sum() / n
    size_l1 = ((size - targets.size).abs() * owned).sum() / n
    side_bce = (F.binary_cross_entropy_with_logits(side, targets.left, reduction="none") * owned).sum() / n
    total = 4.0 * cover + vector_l1 + size_l1 + 0.5 * side_bce
    return {"total": total, "coverage": cover, "vector": vector_l1, "size": size_l1, "side": side_bce}
