"""Sampled hand shapes stay inside the keypoint proportions and knuckle angles of core/hand/shape.py
(``PROPORTION_RANGES``, ``KNUCKLE_ANGLE_RANGES_DEG``)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.hand.joints import from_rhd
from core.hand.kinematics import forward_kinematics, mean_hand_shape
from core.hand.shape import (
    KNUCKLE_ANGLE_RANGES_DEG,
    PROPORTION_RANGES,
    bone_lengths,
    keypoint_proportions,
    knuckle_angles,
    reference_length,
    sample_hand_shapes,
)

FIXTURES = Path(__file__).resolve().parents[2] / "shared/fixtures/real_hands"


def _rest_joints(shape):
    return forward_kinematics(torch.zeros(shape.batch_size, 20), shape)[0]


def _assert_in_ranges(joints):
    ranges = torch.tensor(PROPORTION_RANGES).reshape(20, 2)
    ratios = keypoint_proportions(joints)
    assert bool((ratios >= ranges[:, 0] - 1e-4).all() and (ratios <= ranges[:, 1] + 1e-4).all())
    angle_ranges = torch.tensor(KNUCKLE_ANGLE_RANGES_DEG)
    angles = knuckle_angles(joints)
    assert bool((angles >= angle_ranges[:, 0]).all() and (angles <= angle_ranges[:, 1]).all())


def test_mean_hand_has_documented_proportions():
    _assert_in_ranges(_rest_joints(mean_hand_shape()))


def test_sampled_hands_vary_in_size_and_keep_proportions():
    shapes = sample_hand_shapes(2000, torch.Generator().manual_seed(1))
    joints = _rest_joints(shapes)
    _assert_in_ranges(joints)
    size = reference_length(joints) / 90.0
    assert 0.84 < float(size.min()) < 0.88 and 1.12 < float(size.max()) < 1.16
    ratios = keypoint_proportions(joints)
    assert float(ratios[:, 5].std()) > 0.005, "finger proportions vary between hands"


def test_sampling_is_reproducible_with_a_seed():
    a = sample_hand_shapes(4, torch.Generator().manual_seed(7))
    b = sample_hand_shapes(4, torch.Generator().manual_seed(7))
    assert torch.equal(a.segment_lengths, b.segment_lengths) and torch.equal(a.base_rotations, b.base_rotations)


def test_bone_lengths_of_a_known_skeleton():
    joints = torch.zeros(1, 21, 3)
    joints[0, 1:, 1] = torch.arange(1, 21, dtype=torch.float32)  # joint j at y = j
    lengths = bone_lengths(joints)[0]
    assert lengths.shape == (20,)
    assert lengths[0] == 1 and lengths[4] == 5  # wrist->thumb CMC, wrist->index MCP
    assert lengths[5] == 1  # index MCP->PIP


def test_mean_hand_matches_rhd_keypoint_proportions():
    path = FIXTURES / "rhd/test_rhd.json"
    if not path.exists():
        pytest.skip(f"real-hand fixtures not found at {FIXTURES}")
    annotations = json.loads(path.read_text())["annotations"]
    real = torch.tensor(np.stack([from_rhd(np.asarray(a["joint_cam"]).reshape(21, 3)) for a in annotations]))
    ours = keypoint_proportions(_rest_joints(mean_hand_shape()))[0].double()
    error = (keypoint_proportions(real) - ours).abs().mean(0)
    assert float(error.mean()) < 0.05, f"mean |ratio difference| {float(error.mean()):.3f}"
