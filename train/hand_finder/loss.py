"""Training windows of the hand finder, their targets, and its objective (``core.finder.net``).

From each composite (``train.hand_finder.data.Canvas``) ``WindowSampling.per_canvas`` square
windows are drawn: around labelled hands (the window side a log-uniform ``scale`` of the
hand's box side, its centre moved by up to ``shift`` window sides: what the search pyramid's
nearest window can be), near misses (much smaller or larger, or beside the hand), and anywhere.
A window's score target is how well it frames a labelled hand: 0 below IoU ``negative_iou``
with every hand, 1 from ``positive_iou`` on, linear in between (so among the boxes around one
hand the best framed scores highest, which is the one kept); windows overlapping a hand too
hidden to count by ``negative_iou`` or more teach nothing about the score. The box and side are
taught wherever the window overlaps a labelled hand by at least ``negative_iou``: the refinement
starts from such windows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.finder.boxes import iou_matrix
from core.finder.config import HandFinderConfig
from core.finder.windows import WindowCropper, box_windows, relative, window_boxes
from train.hand_finder.data import Canvas


@dataclass(frozen=True)
class WindowSampling:
    """How training windows are drawn from a composite (module docstring)."""

    per_canvas: int = 8
    around_hands: float = 0.5     # share of windows drawn around a labelled hand
    near_misses: float = 0.2      # share drawn beside, inside or around a hand, too far off to count
    scale: tuple[float, float] = (0.62, 1.6)   # window side / hand box side, around hands
    shift: float = 0.25           # centre offset per axis, in window sides, around hands
    random_side: tuple[float, float] = (20.0, 280.0)  # window sides anywhere, px
    positive_iou: float = 0.7
    negative_iou: float = 0.25


@dataclass
class WindowTargets:
    """label (N,) score target in [0, 1], -1 none; box (N, 3) relative box of the overlapped hand
    (``core.finder.windows.relative``) and box_weight (N,) 1 where it is taught; left (N,) 1 for a
    left hand."""

    label: torch.Tensor
    box: torch.Tensor
    box_weight: torch.Tensor
    left: torch.Tensor

    def to(self, device: torch.device, non_blocking: bool = False) -> "WindowTargets":
        return WindowTargets(*(t.to(device, non_blocking=non_blocking) for t in
                               (self.label, self.box, self.box_weight, self.left)))


def sample_windows(canvas: Canvas, rng: np.random.Generator, sampling: WindowSampling) -> np.ndarray:
    """(per_canvas, 3) windows (cx, cy, side) of one composite."""
    s = canvas.image.shape[0]
    hands = box_windows(np.array([box for box, _, _ in canvas.hands])) if canvas.hands else np.zeros((0, 3))
    out = []
    for _ in range(sampling.per_canvas):
        u = rng.random()
        if len(hands) and u < sampling.around_hands:
            cx, cy, side = hands[rng.integers(len(hands))]
            w = side / math.exp(rng.uniform(*np.log(sampling.scale)))
            out.append((cx + rng.uniform(-1, 1) * sampling.shift * w, cy + rng.uniform(-1, 1) * sampling.shift * w, w))
        elif len(hands) and u < sampling.around_hands + sampling.near_misses:
            cx, cy, side = hands[rng.integers(len(hands))]
            kind = rng.integers(3)
            if kind == 0:
                w = side * rng.uniform(0.2, 0.45)   # on a part of the hand
                cx, cy = cx + rng.uniform(-0.4, 0.4) * side, cy + rng.uniform(-0.4, 0.4) * side
            elif kind == 1:
                w = side * rng.uniform(2.3, 4.0)    # the hand small in the window
                cx, cy = cx + rng.uniform(-0.3, 0.3) * w, cy + rng.uniform(-0.3, 0.3) * w
            else:
                w = side * math.exp(rng.uniform(math.log(0.7), math.log(1.4)))  # beside the hand
                angle = rng.uniform(0, 2 * math.pi)
                cx, cy = cx + math.cos(angle) * 0.75 * (w + side), cy + math.sin(angle) * 0.75 * (w + side)
            out.append((cx, cy, w))
        else:
            w = math.exp(rng.uniform(*np.log(sampling.random_side)))
            out.append((rng.uniform(0, s), rng.uniform(0, s), w))
    return np.array(out, np.float64)


def window_targets(canvas: Canvas, windows: np.ndarray, sampling: WindowSampling) -> WindowTargets:
    """Targets of windows (N, 3) of one composite (module docstring)."""
    n = len(windows)
    boxes = window_boxes(windows)
    labelled = np.array([box for box, _, _ in canvas.hands], np.float64).reshape(-1, 4)
    hidden = np.array(canvas.ignored, np.float64).reshape(-1, 4)
    iou = iou_matrix(boxes, labelled)
    best = iou.argmax(1) if len(labelled) else np.zeros(n, int)
    best_iou = iou.max(1) if len(labelled) else np.zeros(n)
    hidden_iou = iou_matrix(boxes, hidden).max(1) if len(hidden) else np.zeros(n)
    quality = (best_iou - sampling.negative_iou) / (sampling.positive_iou - sampling.negative_iou)
    label = np.clip(quality, 0.0, 1.0).astype(np.float32)
    label[(best_iou < sampling.negative_iou) & (hidden_iou >= sampling.negative_iou)] = -1.0
    taught = best_iou >= sampling.negative_iou
    rel = np.zeros((n, 3), np.float32)
    left = np.zeros(n, np.float32)
    if taught.any():
        rel[taught] = relative(windows[taught], box_windows(labelled[best[taught]]))
        left[taught] = [float(canvas.hands[i][1]) for i in best[taught]]
    t = torch.from_numpy
    return WindowTargets(t(label), t(rel), t(taught.astype(np.float32)), t(left))


def window_batch(canvases: list[Canvas], rng: np.random.Generator, config: HandFinderConfig,
                 sampling: WindowSampling) -> tuple[torch.Tensor, WindowTargets]:
    """Crops (N, 3, c, c) of windows drawn from every canvas, and their targets."""
    crops, targets = [], []
    for canvas in canvases:
        windows = sample_windows(canvas, rng, sampling)
        crops.append(WindowCropper(canvas.image, config.crop_size)(windows))
        targets.append(window_targets(canvas, windows, sampling))
    images = torch.from_numpy(np.concatenate(crops)).permute(0, 3, 1, 2).contiguous()
    return images, join_targets(targets)


def join_targets(parts: list[WindowTargets]) -> WindowTargets:
    """The targets of several window batches, in order."""
    return WindowTargets(*(torch.cat([getattr(t, k) for t in parts]) for k in ("label", "box", "box_weight", "left")))


def finder_loss(score: torch.Tensor, box: torch.Tensor, side: torch.Tensor,
                targets: WindowTargets) -> dict[str, torch.Tensor]:
    """Named terms and ``total``: network outputs (N,), (N, 3), (N,) against ``targets``."""
    known = targets.label >= 0
    score_bce = F.binary_cross_entropy_with_logits(score[known], targets.label[known]) if known.any() else score.sum() * 0
    weight = targets.box_weight
    n = weight.sum().clamp(min=1.0)
    box_l1 = (F.smooth_l1_loss(box, targets.box, reduction="none", beta=0.05).sum(1) * weight).sum() / n
    side_bce = (F.binary_cross_entropy_with_logits(side, targets.left, reduction="none") * weight).sum() / n
    total = score_bce + 2.0 * box_l1 + 0.5 * side_bce
    return {"total": total, "score": score_bce, "box": box_l1, "side": side_bce}
