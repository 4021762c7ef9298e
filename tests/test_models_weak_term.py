"""The weak (2D-only) reprojection term stays bounded when the root solve lands behind the camera."""
from __future__ import annotations

import pytest
import torch

from core.models.geometry import project, solve_root_translation
from core.models.objectives import robust_reprojection_error
from tests.model_builders import random_keypoints

pytestmark = pytest.mark.usefixtures("one_thread")

CROP = 128.0
DELTA, CAP, MIN_DEPTH_MM = 0.02, 1.0, 100.0


def hands_and_views():
    is_left = torch.tensor([False, True, False, True])
    keypoints = random_keypoints(4, torch.Generator().manual_seed(5), is_left).double()  # ~0.5 m in front
    K = torch.tensor([[320.0, 0, 64], [0, 320.0, 64], [0, 0, 1]], dtype=torch.float64).repeat(4, 1, 1)
    return keypoints - keypoints[:, :1], project(keypoints, K), K, torch.ones(4, 21, dtype=torch.float64)


def error(relative, uv, K, weights):
    return robust_reprojection_error(relative, uv, K, weights, CROP, DELTA, CAP, MIN_DEPTH_MM)


def test_the_true_pose_has_no_error():
    relative, uv, K, weights = hands_and_views()
    assert error(relative, uv, K, weights).max() < 1e-6


def test_a_pose_placed_behind_the_camera_gives_a_bounded_finite_term_with_gradients():
    relative, uv, K, weights = hands_and_views()
    mirrored = -relative  # fits the same rays exactly, from behind the camera
    assert (solve_root_translation(mirrored, uv, K, weights)[:, 2] < 0).all()
    mirrored.requires_grad_(True)
    term = error(mirrored, uv, K, weights)
    assert torch.isfinite(term).all()
    assert (term <= CAP - DELTA / 2 + 1e-9).all()  # at most the cap per joint
    assert (term > 0.05).all()                     # and still clearly wrong
    term.sum().backward()
    assert torch.isfinite(mirrored.grad).all() and mirrored.grad.abs().sum() > 0


def test_the_error_grows_with_a_joint_offset_and_stays_capped():
    relative, uv, K, weights = hands_and_views()

    def moved(pixels: float):
        out = uv.clone()
        out[:, 8, 0] += pixels  # the index tip only: no translation of the whole hand explains it
        return out

    terms = [error(relative, moved(pixels), K, weights).mean() for pixels in (1.0, 4.0, 16.0, 1e6)]
    assert terms[0] < terms[1] < terms[2] < terms[3] <= CAP - DELTA / 2  # however far off, capped
