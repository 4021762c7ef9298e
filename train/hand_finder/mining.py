"""Hard negatives for the hand finder: the windows of a composite the network itself scores
highest though no hand is framed in them.

A photo's search pyramid holds a thousand or more windows for each hand; a false window
scoring above the threshold is a false box, so the network has to be sure of negatives far
beyond what randomly drawn windows teach. Each step, a few composites of the batch are searched
the way ``HandFinder`` searches a photo (a random subset of their pyramid windows, the network
in eval mode, no gradients), and their best-scoring windows that overlap no hand (labelled or
too hidden to count) by ``negative_iou`` or more join the batch as negatives.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.finder.boxes import iou_matrix
from core.finder.config import HandFinderConfig
from core.finder.net import HandFinderNet
from core.finder.windows import WindowCropper, pyramid, window_boxes
from train.hand_finder.loss import WindowTargets


@dataclass(frozen=True)
class MiningConfig:
    """``canvases`` composites per step are searched over ``windows`` random pyramid windows
    each; the ``keep`` best-scoring false windows of each join the batch."""

    canvases: int = 1
    windows: int = 384
    keep: int = 24
    negative_iou: float = 0.25


@dataclass
class MiningCanvas:
    """A composite to mine: image (S, S, 3) float32, boxes (M, 4) of every hand in it, seed."""

    image: np.ndarray
    boxes: np.ndarray
    seed: int


def false_windows(net: HandFinderNet, canvas: MiningCanvas, config: HandFinderConfig,
                  mining: MiningConfig) -> tuple[np.ndarray, torch.Tensor]:
    """The ``keep`` best-scoring windows (K, 3) of ``canvas`` that frame no hand, and their crops
    (K, 3, c, c); the network is run as it is (``hard_negatives`` puts it in eval mode)."""
    rng = np.random.default_rng(canvas.seed)
    s = canvas.image.shape[0]
    windows = pyramid(s, s, config)
    windows = windows[rng.choice(len(windows), min(mining.windows, len(windows)), replace=False)]
    if len(canvas.boxes):
        windows = windows[iou_matrix(window_boxes(windows), canvas.boxes).max(1) < mining.negative_iou]
    if len(windows) == 0:
        return windows, torch.zeros(0, 3, config.crop_size, config.crop_size)
    images = torch.from_numpy(WindowCropper(canvas.image, config.crop_size)(windows)).permute(0, 3, 1, 2)
    with torch.no_grad():
        score = net(images)[0]
    best = torch.topk(score, min(mining.keep, len(score))).indices
    return windows[best.numpy()], images[best]


def hard_negatives(net: HandFinderNet, canvases: list[MiningCanvas], config: HandFinderConfig,
                   mining: MiningConfig) -> tuple[torch.Tensor, WindowTargets] | None:
    """Crops (N, 3, c, c) of the best-scoring false windows of ``canvases`` and their targets
    (label 0, nothing else taught); None when there is nothing to mine."""
    was_training = net.training
    net.eval()
    try:
        crops = [false_windows(net, canvas, config, mining)[1] for canvas in canvases]
    finally:
        net.train(was_training)
    images = torch.cat(crops).contiguous() if crops else torch.zeros(0)
    n = len(images)
    if n == 0:
        return None
    zeros = torch.zeros(n)
    return images, WindowTargets(zeros.clone(), torch.zeros(n, 3), zeros.clone(), zeros.clone())
