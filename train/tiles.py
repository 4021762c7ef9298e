"""Model images as picture tiles: the one conversion behind the sample grid (``train.grids``), the
experiments' figures (``train.experiments.figures``) and the decoder ablation's contact sheet."""
from __future__ import annotations

import cv2
import numpy as np
import torch


def to_tiles(images: torch.Tensor, tile: int, interpolation: int = cv2.INTER_LINEAR) -> list[np.ndarray]:
    """(B, 3, H, W) RGB in [0, 1] -> B uint8 BGR tiles of ``tile`` x ``tile`` pixels, resized with
    OpenCV's ``interpolation``."""
    array = (images.detach().float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return [cv2.resize(np.ascontiguousarray(im[:, :, ::-1]), (tile, tile), interpolation=interpolation)
            for im in array]
