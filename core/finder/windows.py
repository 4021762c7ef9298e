"""Square windows of a photo: the search pyramid, their crops, and boxes relative to them.

A window is (cx, cy, side) in image pixels (pixel centres at integers, as everywhere in the
project); its box is (cx - side/2, cy - side/2, cx + side/2, cy + side/2). A hand's box
relative to a window is ((bx - cx) / side, (by - cy) / side, log(box side / side)): what
``core.finder.net.HandFinderNet`` regresses, and what training targets are made of.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from core.finder.config import HandFinderConfig


def pyramid(height: int, width: int, config: HandFinderConfig) -> np.ndarray:
    """The search windows (N, 3) of an image: sides from ``smallest_window`` x its shorter side
    (at least ``smallest_window_px``)
    up to ``largest_window`` x its longer side in steps of ``scale_step``, each size's centres
    spaced at most ``window_stride`` x its side apart from border to border."""
    low = max(config.smallest_window_px, config.smallest_window * min(height, width))
    high = config.largest_window * max(height, width)
    count = max(1, int(math.floor(math.log(high / low) / math.log(config.scale_step))) + 1)
    out = []
    for k in range(count):
        side = low * config.scale_step ** k
        step = config.window_stride * side
        # centres from border to border (a hand at the border has its box centre there)
        rows = [np.linspace(0.0, extent - 1.0, max(2, int(math.ceil((extent - 1) / step)) + 1)) for extent in (width, height)]
        xs, ys = np.meshgrid(rows[0], rows[1])
        out.append(np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, side)], 1))
    return np.concatenate(out).astype(np.float64)


def window_boxes(windows: np.ndarray) -> np.ndarray:
    """(N, 3) windows -> (N, 4) boxes (x0, y0, x1, y1)."""
    half = 0.5 * windows[:, 2:3]
    return np.concatenate([windows[:, :2] - half, windows[:, :2] + half], 1)


def box_windows(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) square boxes -> (N, 3) windows (the side is the mean of width and height)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    side = 0.5 * ((boxes[:, 2] - boxes[:, 0]) + (boxes[:, 3] - boxes[:, 1]))
    return np.stack([0.5 * (boxes[:, 0] + boxes[:, 2]), 0.5 * (boxes[:, 1] + boxes[:, 3]), side], 1)


def relative(windows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Windows (N, 3) and the windows (N, 3) of their hands' boxes -> (N, 3) relative boxes."""
    side = windows[:, 2]
    return np.stack([(targets[:, 0] - windows[:, 0]) / side, (targets[:, 1] - windows[:, 1]) / side,
                     np.log(targets[:, 2] / side)], 1)


def apply_relative(windows: np.ndarray, rel: np.ndarray) -> np.ndarray:
    """The inverse of ``relative``: windows (N, 3), relative boxes (N, 3) -> (N, 3) windows."""
    side = windows[:, 2]
    return np.stack([windows[:, 0] + rel[:, 0] * side, windows[:, 1] + rel[:, 1] * side,
                     side * np.exp(np.clip(rel[:, 2], -3.0, 3.0))], 1)


class WindowCropper:
    """Crops (N, c, c, 3) float32 of windows of one image (H, W, 3), read from the image's
    level of a halving pyramid at which the window is at least ``c`` px (no aliasing when a
    large window shrinks); outside the image the border pixels repeat."""

    def __init__(self, image: np.ndarray, crop_size: int) -> None:
        img = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
        self.levels = [img]
        while min(self.levels[-1].shape[:2]) >= 2 * crop_size and len(self.levels) < 8:
            self.levels.append(cv2.pyrDown(self.levels[-1]))
        self.crop_size = crop_size

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        c = self.crop_size
        out = np.empty((len(windows), c, c, 3), np.float32)
        for i, (cx, cy, side) in enumerate(np.asarray(windows, np.float64)):
            level = int(np.clip(math.floor(math.log2(max(side / c, 1.0))), 0, len(self.levels) - 1))
            f = 2.0 ** -level
            scale = side / c * f  # level pixels per crop pixel
            # crop pixel u is at x = left edge + (u + 0.5) side / c; level pixel = (x + 0.5) f - 0.5
            x0 = (cx - 0.5 * side + 0.5) * f - 0.5
            y0 = (cy - 0.5 * side + 0.5) * f - 0.5
            m = np.array([[scale, 0.0, x0 + 0.5 * scale], [0.0, scale, y0 + 0.5 * scale]])
            out[i] = cv2.warpAffine(self.levels[level], m, (c, c), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_REPLICATE).reshape(c, c, 3)
        return out
