"""Forward kinematics: geometry of the rest pose, bone lengths, flexion directions."""
import math

import torch

from core.hand.joints import BONES, FINGER_TIPS, MIDDLE_MCP, finger_joints
from core.hand.kinematics import forward_kinematics, mean_hand_shape, mirror_to_left
from core.hand.shape import bone_lengths, sample_hand_shapes


def test_fk_bone_lengths_equal_the_shape_segments_for_any_angles():
    gen = torch.Generator().manual_seed(0)
    shape = sample_hand_shapes(64, gen)
    angles = torch.randn(64, 20, generator=gen)
    joints, frames = forward_kinematics(angles, shape)
    lengths = bone_lengths(joints).reshape(64, 5, 4)
    torch.testing.assert_close(lengths[:, :, 1:], shape.segment_lengths, atol=1e-3, rtol=1e-5)
    torch.testing.assert_close(lengths[:, :, 0], shape.base_positions.norm(dim=-1), atol=1e-3, rtol=1e-5)
    eye = torch.eye(3).expand_as(frames)
    torch.testing.assert_close(frames.transpose(-1, -2) @ frames, eye, atol=1e-5, rtol=0)


def test_rest_pose_is_a_flat_hand_with_fingers_up():
    joints, _ = forward_kinematics(torch.zeros(1, 20), mean_hand_shape())
    joints = joints[0]
    assert torch.equal(joints[0], torch.zeros(3))
    torch.testing.assert_close(joints[MIDDLE_MCP], torch.tensor([0.0, 90.0, 0.0]))
    for finger in range(1, 5):
        chain = joints[list(finger_joints(finger))]
        steps = chain[1:] - chain[:-1]
        assert bool((steps[:, 1] > 0.9 * steps.norm(dim=-1)).all()), "straight fingers point along +y"
        assert float(steps[:, 2].abs().max()) < 1e-4, "and stay flat"
    assert joints[1, 0] > 10 and joints[17, 0] < -10, "thumb at +x, pinky at -x"


def test_flexion_bends_toward_the_palm_and_abduction_toward_the_pinky():
    shape = mean_hand_shape()
    rest, _ = forward_kinematics(torch.zeros(1, 20), shape)
    for finger in range(1, 5):
        flexed = torch.zeros(1, 20)
        flexed[0, 4 * finger] = math.radians(45)
        joints, _ = forward_kinematics(flexed, shape)
        assert joints[0, FINGER_TIPS[finger], 2] > rest[0, FINGER_TIPS[finger], 2] + 20
        abducted = torch.zeros(1, 20)
        abducted[0, 4 * finger + 1] = math.radians(10)
        joints, _ = forward_kinematics(abducted, shape)
        assert joints[0, FINGER_TIPS[finger], 0] < rest[0, FINGER_TIPS[finger], 0] - 5
    opposed = torch.zeros(1, 20)
    opposed[0, 1] = math.radians(-50)  # thumb palmar abduction
    joints, _ = forward_kinematics(opposed, shape)
    assert joints[0, 4, 2] > rest[0, 4, 2] + 20


def test_mirror_to_left_flips_x_of_flagged_hands():
    joints, _ = forward_kinematics(torch.zeros(2, 20), mean_hand_shape(2))
    mirrored = mirror_to_left(joints, torch.tensor([False, True]))
    torch.testing.assert_close(mirrored[0], joints[0])
    torch.testing.assert_close(mirrored[1, :, 0], -joints[1, :, 0])
    assert len(BONES) == 20
