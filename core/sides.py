"""The side of the hand (left / right) read from images, and test-time flip consistency.

A left hand mirrored left-right is a right hand, so a consistent reader of the side would give
``p_left(mirror(x)) = 1 - p_left(x)``. A trained one need not (it may read most crops as one
side); the flip rule makes it so by averaging the two readings::

    p_flip(x) = (p_left(x) + 1 - p_left(mirror(x))) / 2

so ``p_flip(mirror(x)) = 1 - p_flip(x)`` (up to float rounding) and the decision
``p_flip > 0.5`` of a mirrored image is the other side (a tie at exactly 0.5 reads right).
"""
from __future__ import annotations

import torch

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
