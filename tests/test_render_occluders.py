"""Occluders: shapes of the asked area on the hand, labels unchanged, off = bit-identical."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from core.data.synthetic import SyntheticConfig, SyntheticRenderer
from core.render.augment import AugmentConfig
from core.render.occluders import OccluderConfig, shape_alpha

pytestmark = pytest.mark.usefixtures("one_thread")

SIZE = 64
INDICES = list(range(8))


@pytest.mark.parametrize("ellipse", [True, False])
def test_a_shape_covers_its_area(ellipse):
    a, b = 9.0, 4.0
    alpha = shape_alpha(SIZE, torch.tensor([30.0, 33.0]), (a, b), 0.7, ellipse)
    area = math.pi * a * b if ellipse else 4 * a * b
    assert abs(float(alpha.sum()) - area) < 0.05 * area
    assert float(alpha[33, 30]) == 1.0 and float(alpha[2, 2]) == 0.0


def test_probability_0_is_bit_identical():
    base = SyntheticConfig.at_size(SIZE)
    reference = SyntheticRenderer(base).render(INDICES, 1).batch
    off = replace(base, occluders=OccluderConfig(probability=0.0, two_fraction=1.0, hand_fraction=(0.2, 0.3)))
    assert torch.equal(SyntheticRenderer(off).render(INDICES, 1).batch.image, reference.image)


def test_occluders_cover_part_of_the_hand_and_leave_the_labels():
    plain = SyntheticConfig.at_size(SIZE, augment=AugmentConfig(enabled=False))  # measure before augmentation
    reference = SyntheticRenderer(plain).render(INDICES, 4).batch
    occluded = SyntheticRenderer(replace(plain, occluders=OccluderConfig(probability=1.0))).render(INDICES, 4).batch
    for name in ("keypoints_2d", "keypoints_3d", "visible", "mask", "content", "appearance", "is_left"):
        assert torch.equal(getattr(occluded, name), getattr(reference, name)), name
    hand = reference.mask[:, 0] > 0.5  # (B, S, S)
    changed = (occluded.image - reference.image).abs().amax(dim=1) > 0.02
    on_hand = (changed & hand).flatten(1).sum(1).float() / hand.flatten(1).sum(1)
    assert bool((on_hand > 0.0).all())           # every sample's hand is occluded somewhere
    assert float(on_hand.max()) <= 0.35          # by at most ~30 % of its area (anti-aliased edges)
    again = SyntheticRenderer(replace(plain, occluders=OccluderConfig(probability=1.0))).render([3], 4).batch
    # per sample, whatever the batch (batched rendering itself differs in the last bits)
    assert float((again.image[0] - occluded.image[3]).abs().mean()) < 2e-3


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="probability"):
        OccluderConfig(probability=1.5)
    with pytest.raises(ValueError, match="hand_fraction"):
        OccluderConfig(hand_fraction=(0.0, 0.3))
