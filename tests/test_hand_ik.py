"""Inverse kinematics: fitting keypoints and dragging joints."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from core.hand.ik import FitConfig, drag_free_angles, drag_joint, fit_angles
from core.hand.joints import from_rhd
from core.hand.kinematics import forward_kinematics, mean_hand_shape, mirror_to_left
from core.hand.limits import ANGLE_LOWER, ANGLE_UPPER, within_limits
from core.hand.sampling import random_rotations
from core.hand.shape import bone_lengths, sample_hand_shapes

FIXTURES = Path(__file__).resolve().parents[2] / "shared/fixtures/real_hands"


def _random_pose(batch: int, gen: torch.Generator) -> torch.Tensor:
    # Away from the limits, where the solution is unique.
    span = ANGLE_UPPER - ANGLE_LOWER
    return ANGLE_LOWER + span * (0.1 + 0.8 * torch.rand(batch, 20, generator=gen))


def test_fit_recovers_angles_rotation_and_translation_of_random_hands():
    gen = torch.Generator().manual_seed(0)
    shape = sample_hand_shapes(32, gen)
    angles = _random_pose(32, gen)
    rotation = random_rotations(32, gen)
    is_left = torch.rand(32, generator=gen) < 0.5
    translation = torch.randn(32, 3, generator=gen) * 50 + torch.tensor([0.0, 0.0, 500.0])
    joints, _ = forward_kinematics(angles, shape)
    camera = mirror_to_left(joints, is_left) @ rotation.transpose(1, 2) + translation[:, None]
    result = fit_angles(camera, shape, is_left, config=FitConfig(rounds=4))
    assert bool(within_limits(result.angles).all())
    assert float(result.error.max()) < 0.5  # mm
    assert float((result.angles - angles).abs().mean()) < math.radians(1.0)
    torch.testing.assert_close(result.rotation, rotation, atol=1e-3, rtol=0)
    torch.testing.assert_close(result.translation, translation, atol=0.1, rtol=0)
    refit, _ = forward_kinematics(result.angles, shape)
    rebuilt = mirror_to_left(refit, is_left) @ result.rotation.transpose(1, 2) + result.translation[:, None]
    assert float((rebuilt - camera).norm(dim=-1).mean()) < 0.5


def test_fit_with_scale_finds_the_hand_size():
    gen = torch.Generator().manual_seed(1)
    angles = _random_pose(8, gen)
    joints, _ = forward_kinematics(angles, mean_hand_shape(8).scaled(torch.full((8,), 1.12)))
    result = fit_angles(joints, mean_hand_shape(), config=FitConfig(fit_scale=True, rounds=4))
    torch.testing.assert_close(result.scale, torch.full((8,), 1.12), atol=5e-3, rtol=0)
    assert float(result.error.max()) < 0.5


def test_fit_of_real_rhd_keypoints_with_the_mean_hand():
    path = FIXTURES / "rhd/test_rhd.json"
    if not path.exists():
        pytest.skip(f"real-hand fixtures not found at {FIXTURES}")
    annotations = json.loads(path.read_text())["annotations"]
    keypoints = torch.tensor(np.stack([from_rhd(np.asarray(a["joint_cam"]).reshape(21, 3)) for a in annotations]),
                             dtype=torch.float32)
    is_left = torch.tensor([a["hand_type"] == "left" for a in annotations])
    result = fit_angles(keypoints, mean_hand_shape(), is_left, config=FitConfig(fit_scale=True))
    assert float(result.error.max()) < 8.0, "keypoint conventions of the mean hand match RHD's"


def test_drag_fingertip_curls_the_finger_and_keeps_bones():
    shape = mean_hand_shape()
    start = torch.zeros(20)
    joints, _ = forward_kinematics(start[None], shape)
    target = joints[0, 8] + torch.tensor([0.0, -40.0, 45.0])  # toward the palm
    moved = drag_joint(start, shape, 8, target)
    after, _ = forward_kinematics(moved[None], shape)
    assert (after[0, 8] - target).norm() < 0.5 * (joints[0, 8] - target).norm()
    assert moved[6] > math.radians(20), "the PIP flexes"
    assert bool(within_limits(moved))
    ratio = bone_lengths(after) / bone_lengths(joints)
    assert float((ratio - 1).abs().max()) < 0.01
    others = torch.ones(20, dtype=torch.bool)
    others[4:8] = False
    assert torch.equal(moved[others], start[others]), "only the dragged finger moves"


def test_drag_respects_limits_and_leaves_rigid_joints():
    shape = mean_hand_shape()
    start = torch.zeros(20)
    joints, _ = forward_kinematics(start[None], shape)
    far = drag_joint(start, shape, 20, joints[0, 20] + torch.tensor([0.0, 0.0, -300.0]))  # behind the hand
    assert bool(within_limits(far))
    for rigid in (0, 1, 5, 9, 13, 17):
        assert torch.equal(drag_joint(start, shape, rigid, torch.zeros(3)), start)
        assert not bool(drag_free_angles(rigid).any())
    assert drag_free_angles(6).tolist()[4:8] == [True, True, False, False]


def test_repeated_small_drags_follow_a_moving_cursor():
    shape = mean_hand_shape()
    angles = torch.zeros(20)
    joints, _ = forward_kinematics(angles[None], shape)
    goal = joints[0, 4] + torch.tensor([-40.0, 0.0, 40.0])  # thumb tip across the palm
    for step in range(1, 11):
        angles = drag_joint(angles, shape, 4, joints[0, 4] + (goal - joints[0, 4]) * step / 10)
    after, _ = forward_kinematics(angles[None], shape)
    assert float((after[0, 4] - goal).norm()) < 5.0
