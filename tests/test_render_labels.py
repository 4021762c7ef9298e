"""Labels of 1,000 rendered samples agree with their images and with the documented hand model."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.data.synthetic import SyntheticConfig, SyntheticRenderer
from core.hand.limits import within_limits
from core.hand.shape import PROPORTION_RANGES, keypoint_proportions
from core.render.augment import AugmentConfig
from core.render.scene import CameraRanges

pytestmark = pytest.mark.slow  # every test reads 1,000 renders (one module fixture)

SIZE = 64
COUNT = 1000
BATCH = 250


@pytest.fixture(scope="module")
def rendered():
    """1,000 samples at 64 px (no augmentation: only labels and coverage are checked)."""
    renderer = SyntheticRenderer(SyntheticConfig.at_size(SIZE, augment=AugmentConfig(enabled=False)))
    parts = [renderer.render(list(range(lo, lo + BATCH)), seed=11) for lo in range(0, COUNT, BATCH)]
    cat = lambda get: torch.cat([get(p) for p in parts])  # noqa: E731
    return {
        "keypoints_3d": cat(lambda p: p.batch.keypoints_3d).double(),
        "keypoints_2d": cat(lambda p: p.batch.keypoints_2d).double(),
        "K": cat(lambda p: p.batch.K).double(),
        "visible": cat(lambda p: p.batch.visible),
        "mask": cat(lambda p: p.batch.mask),
        "angles": cat(lambda p: p.scene.angles),
        "crop_rotation": cat(lambda p: p.batch.crop_rotation),
        "is_left": cat(lambda p: p.batch.is_left),
    }


def test_keypoints_2d_are_the_projection_of_keypoints_3d(rendered):
    X, K = rendered["keypoints_3d"], rendered["K"]
    u = K[:, 0, 0, None] * X[..., 0] / X[..., 2] + K[:, 0, 2, None]
    v = K[:, 1, 1, None] * X[..., 1] / X[..., 2] + K[:, 1, 2, None]
    error = (torch.stack([u, v], -1) - rendered["keypoints_2d"]).norm(dim=-1)
    assert error.max() < 0.5
    assert (X[..., 2] > 0).all()
    assert torch.allclose(rendered["crop_rotation"], torch.eye(3).expand_as(rendered["crop_rotation"]))


def test_visible_joints_lie_on_the_hand_mask(rendered):
    covered = (rendered["mask"] > 0.0).float()
    dilated = F.max_pool2d(covered, 5, stride=1, padding=2)[:, 0] > 0  # 2 px slack at the silhouette
    visible = rendered["visible"]
    pix = rendered["keypoints_2d"].round().long().clamp(0, SIZE - 1)
    batch = torch.arange(len(pix))[:, None].expand(-1, 21)
    on_mask = dilated[batch, pix[..., 1], pix[..., 0]]
    assert on_mask[visible].all(), f"{int((~on_mask[visible]).sum())} visible joints off the mask"
    # Not vacuous: most joints are visible, and self-occlusion hides some.
    assert 0.55 < visible.float().mean() < 0.98


def test_hands_fill_about_three_quarters_of_the_crop_centred(rendered):
    uv = rendered["keypoints_2d"]
    lo, hi = uv.amin(dim=1), uv.amax(dim=1)
    fill = (hi - lo).amax(dim=1) / SIZE
    ranges = CameraRanges()
    # Shifting the box sideways changes its perspective a little: allow a few per cent.
    assert (fill > ranges.fill[0] - 0.03).all() and (fill < ranges.fill[1] + 0.03).all()
    centre_offset = ((lo + hi) / 2 - (SIZE - 1) / 2) / SIZE
    assert centre_offset.abs().max() < ranges.shift + 0.02


def test_poses_and_proportions_stay_in_the_documented_ranges(rendered):
    assert within_limits(rendered["angles"]).all()
    proportions = keypoint_proportions(rendered["keypoints_3d"]).reshape(-1, 5, 4)
    ranges = torch.tensor(PROPORTION_RANGES, dtype=torch.float64)
    assert (proportions >= ranges[..., 0] - 1e-3).all() and (proportions <= ranges[..., 1] + 1e-3).all()


def test_both_chiralities_and_many_views_occur(rendered):
    X = rendered["keypoints_3d"]
    palm_normal = torch.cross(X[:, 5] - X[:, 0], X[:, 17] - X[:, 0], dim=-1)
    facing = F.normalize(palm_normal, dim=-1)[:, 2]
    assert (facing > 0.5).any() and (facing < -0.5).any()
    left = rendered["is_left"].float().mean()
    assert 0.3 < left < 0.7


def test_masks_are_soft_only_at_the_silhouette(rendered):
    mask = rendered["mask"]
    partial = ((mask > 0) & (mask < 1)).float().mean()
    full = (mask == 1).float().mean()
    assert full > 0.1 and partial < full
    assert np.isfinite(mask.numpy()).all()
