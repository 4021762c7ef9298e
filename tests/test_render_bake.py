"""The baked hand: a closed smooth surface on the keypoint conventions, skinned consistently."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.hand.joints import FINGER_TIPS
from core.hand.kinematics import forward_kinematics, mean_hand_shape
from core.render.bake import NUM_BONES, PART_FOREARM, PART_NAIL, PART_SKIN, PART_STUB, bake_hand, finger_bone
from core.render.hand_sdf import HandSDF
from core.render.renderer import bake_for_size
from core.render.skinning import SkinningFeatures, pose_bones, skin_points

CONFIG = bake_for_size(64)


@pytest.fixture(scope="module")
def baked():
    return bake_hand(CONFIG)


@pytest.fixture(scope="module")
def sdf(baked):
    return HandSDF(baked.rest_joints, baked.rest_frames, CONFIG.geometry)


def test_points_lie_on_the_surface_with_outward_unit_normals(baked, sdf):
    hand = baked.part != PART_STUB
    p, n = baked.positions[hand].astype(np.float64), baked.normals[hand].astype(np.float64)
    assert np.abs(sdf.distance(p)).max() < 0.5 * CONFIG.hand_step_mm
    assert np.allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-4)
    assert (sdf.distance(p + 1.0 * n) > 0.5).mean() > 0.98


def test_fingertip_keypoints_sit_on_the_tip_surface(baked, sdf):
    tips = baked.rest_joints[list(FINGER_TIPS)].astype(np.float64)
    assert np.abs(sdf.distance(tips)).max() < 0.3
    wrist = baked.rest_joints[:1].astype(np.float64)
    assert sdf.distance(wrist)[0] < -10.0  # the wrist keypoint is inside the wrist


def test_every_part_and_every_nail_is_there(baked):
    counts = np.bincount(baked.part, minlength=4)
    assert (counts[[PART_SKIN, PART_NAIL, PART_FOREARM, PART_STUB]] > 0).all()
    nails = baked.part == PART_NAIL
    owners = np.argmax(baked.weights[nails], axis=1)
    assert {finger_bone(f, 2) for f in range(5)} <= set(owners.tolist())


def test_skinning_weights_are_a_partition_of_unity(baked):
    assert baked.weights.shape[1] == NUM_BONES
    assert np.allclose(baked.weights.sum(axis=1), 1.0, atol=1e-5)
    assert (baked.weights >= 0).all()


def test_the_rest_pose_reproduces_the_baked_points(baked):
    features = SkinningFeatures.from_baked(baked, "cpu")
    pose = pose_bones(features, torch.zeros(1, 20), mean_hand_shape(1), torch.eye(3)[None])
    positions, normals = skin_points(features, pose, torch.eye(3)[None], torch.zeros(1, 3))
    assert torch.allclose(positions[:, 0].T, torch.from_numpy(baked.positions), atol=1e-3)
    assert torch.allclose(torch.nn.functional.normalize(normals[:, 0].T, dim=1), torch.from_numpy(baked.normals), atol=1e-3)


def test_longer_fingers_move_the_tip_surface_with_the_tip_keypoint(baked):
    features = SkinningFeatures.from_baked(baked, "cpu")
    shape = mean_hand_shape(1)
    longer = type(shape)(shape.base_positions, shape.base_rotations, shape.segment_lengths * 1.2)
    angles = torch.zeros(1, 20)
    angles[0, 4 + 2] = 0.8  # bend the index PIP too
    pose = pose_bones(features, angles, longer, torch.eye(3)[None])
    positions, _ = skin_points(features, pose, torch.eye(3)[None], torch.zeros(1, 3))
    joints, _ = forward_kinematics(angles, longer)
    for tip in FINGER_TIPS:
        nearest = (positions[:, 0].T - joints[0, tip]).norm(dim=1).min()
        assert nearest < 1.5, f"tip {tip}: no surface point within {float(nearest):.2f} mm"
