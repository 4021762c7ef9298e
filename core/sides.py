"""The side of the hand (left / right) read from images, and test-time flip consistency.

A left hand mirrored left-right is a right hand, so a consistent reader of the side would give
``p_left(mirror(x)) = 1 - p_left(x)``. A trained one need not (it may read most crops as one
side); the flip rule makes it so by averaging the two readings::

    p_flip(x) = (p_left(x) + 1 - p_left(mirror(x))) / 2

so ``p_flip(mirror(x)) = 1 - p_flip(x)`` (up to float rounding) and the decision
``p_flip > 0.5`` of a mirrored image is the other side (a tie at exactly 0.5 reads right).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np
import torch

from core.data.crop import crop_square
from core.finder.boxes import Detection
from core.models.dvae import DVAE


def left_probability(model: DVAE, images: torch.Tensor, flip: bool = False) -> torch.Tensor:
    """Images (N, 3, S, S) in [0, 1] -> (N,) probability that each shows a left hand.

    The probability is the sigmoid of the viewpoint decoder's handedness logit at the image
    posterior's mean (``DecodedLabels.left_logit``; ``> 0.5`` is the side ``HandModel.estimate``
    reads). ``flip``: the flip rule of the module docstring, the mirror being ``images.flip(-1)``
    (both readings in one batch).
    """
    batch = torch.cat([images, images.flip(-1)]) if flip else images
    p = torch.sigmoid(model.decode_labels(model.image_posterior(batch).mu).left_logit)
    if not flip:
        return p
    n = len(images)
    return 0.5 * (p[:n] + 1.0 - p[n:])


def with_read_sides(detections: list[Detection], image: np.ndarray, read_left: Callable[[np.ndarray], np.ndarray],
                    crop_size: int, keep_sources: tuple[str, ...] = ()) -> list[Detection]:
    """``detections`` of ``image`` (H, W, 3) with the side of each read from its box's crop
    (``crop_size`` px, cut as the app cuts it) by ``read_left``: crops (N, c, c, 3) -> (N,)
    probability of a left hand (``HandModel.read_side``); ``side_score`` is that reading's
    certainty, max(p, 1 - p). Detections whose ``source`` is in ``keep_sources`` keep their own
    side (MediaPipe's, which is right more often than the reading on real photos)."""
    out = list(detections)
    read = [i for i, d in enumerate(detections) if d.source not in keep_sources]
    if not read:
        return out
    crops = np.stack([crop_square(image, detections[i].crop, crop_size) for i in read])
    p_left = np.asarray(read_left(crops), np.float64).reshape(-1)
    for i, p in zip(read, p_left):
        out[i] = replace(detections[i], is_left=bool(p > 0.5), side_score=float(max(p, 1.0 - p)))
    return out
