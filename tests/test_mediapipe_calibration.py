"""The calibration of MediaPipe's boxes to the project's framing (train.evaluate.mediapipe_calibration)."""
from __future__ import annotations

import numpy as np
import pytest

from train.evaluate.mediapipe_calibration import BoxPair, found_share, side_ratio, widened


def _hand(x: float, y: float, extent: float) -> np.ndarray:
    """21 keypoints spread over a square of ``extent`` px at (x, y)."""
    grid = np.random.default_rng(0).uniform(0.0, 1.0, (21, 2))
    grid[:2] = [[0.0, 0.0], [1.0, 1.0]]  # the extent is exact
    return np.array([x, y]) + extent * grid


def _shrunk(box: tuple[float, ...], factor: float) -> tuple[float, float, float, float]:
    return widened(box, 1.0 / factor)


def test_the_ratio_of_sides_and_the_widening_recover_a_box_drawn_too_small():
    pairs = [BoxPair(kp, _shrunk(BoxPair(kp, (0, 0, 1, 1)).truth, 1.4))
             for kp in (_hand(10.0, 20.0, 60.0), _hand(100.0, 50.0, 120.0))]
    assert side_ratio(pairs) == pytest.approx([1.4, 1.4])
    # 1/1.4 of the training framing (4/3 of the extent) is less than the extent: a keypoint is out
    assert found_share(pairs, 1.0) == 0.0
    assert found_share(pairs, 1.4) == 1.0


def test_widening_keeps_the_centre():
    box = widened((10.0, 20.0, 50.0, 60.0), 1.5)
    assert box == pytest.approx((0.0, 10.0, 60.0, 70.0))
