"""Pose, gesture, viewpoint and handedness samplers."""
import math

import torch

from core.hand.gestures import GESTURES, Gesture, gesture_angles
from core.hand.kinematics import forward_kinematics, mean_hand_shape
from core.hand.limits import within_limits
from core.hand.sampling import (
    HandPoseSample,
    ViewpointConfig,
    sample_handedness,
    sample_hands,
    sample_poses,
    sample_viewpoints,
)
from core.hand.shape import sample_hand_shapes


def test_sampled_poses_respect_limits_and_cover_open_to_closed():
    angles = sample_poses(3000, torch.Generator().manual_seed(0))
    assert angles.shape == (3000, 20) and angles.dtype == torch.float32
    assert bool(within_limits(angles).all())
    pip = torch.rad2deg(angles[:, 6])
    assert float((pip < 15).float().mean()) > 0.1 and float((pip > 80).float().mean()) > 0.1
    assert float(angles.std(0).min()) > math.radians(3), "every angle varies"


def test_seeded_sampling_is_reproducible():
    a = sample_hands(64, torch.Generator().manual_seed(5))
    b = sample_hands(64, torch.Generator().manual_seed(5))
    assert torch.equal(a.angles, b.angles) and torch.equal(a.viewpoint, b.viewpoint)
    assert torch.equal(a.is_left, b.is_left) and torch.equal(a.shape.segment_lengths, b.shape.segment_lengths)


def test_pinch_and_ok_bring_thumb_tip_to_index_tip():
    gen = torch.Generator().manual_seed(2)
    shapes = sample_hand_shapes(120, gen)
    for gesture in (Gesture.PINCH, Gesture.OK):
        angles = gesture_angles(gesture, 120, shapes, jitter_deg=8.0, generator=gen)
        assert bool(within_limits(angles).all())
        joints, _ = forward_kinematics(angles, shapes)
        gap = (joints[:, 4] - joints[:, 8]).norm(dim=-1)
        assert float(gap.max()) < 3.0, f"{gesture.value.name}: thumb-index gap up to {float(gap.max()):.1f} mm"


def test_gestures_are_distinct_named_poses_within_limits():
    shape = mean_hand_shape()
    names = [g.value.name for g in GESTURES]
    assert names == ["open", "spread", "fist", "point", "victory", "three", "thumbs_up", "call", "rock",
                     "pinch", "ok", "claw"]
    tips = []
    for gesture in GESTURES:
        angles = gesture_angles(gesture, shape=shape)
        assert bool(within_limits(angles).all())
        tips.append(forward_kinematics(angles, shape)[0][0, [4, 8, 12, 16, 20]])
    distance = torch.cdist(torch.stack(tips).flatten(1), torch.stack(tips).flatten(1))
    assert float((distance + 1e3 * torch.eye(len(tips))).min()) > 20.0
    # In a point the index is straight and the middle curled; in a fist both are curled.
    point, _ = forward_kinematics(gesture_angles(Gesture.POINT, shape=shape), shape)
    assert point[0, 8, 1] > 160 and point[0, 12, 1] < 130


def test_viewpoints_mostly_show_palm_or_back_with_fingers_up():
    views = sample_viewpoints(4000, torch.Generator().manual_seed(1))
    torch.testing.assert_close(torch.linalg.det(views), torch.ones(4000), atol=1e-5, rtol=0)
    palm_normal_z = views[:, 2, 2]  # camera z of the hand's palm normal
    fingers_y = views[:, 1, 1]  # camera y (down) of the hand's finger direction
    facing = palm_normal_z.abs() > math.cos(math.radians(35))
    assert 0.6 < float(facing.float().mean()) < 0.9
    assert float((fingers_y < 0).float().mean()) > 0.8, "fingers mostly up in the image"
    assert 0.3 < float((palm_normal_z < 0).float().mean()) < 0.7, "palm and back both occur"
    assert float((fingers_y > 0.5).float().mean()) > 0.03, "the uniform share covers other views"


def test_typical_only_viewpoints_stay_near_the_two_photo_views():
    config = ViewpointConfig(typical_fraction=1.0)
    views = sample_viewpoints(2000, torch.Generator().manual_seed(3), config)
    assert float((views[:, 2, 2].abs() > math.cos(math.radians(35))).float().mean()) > 0.85
    assert float((views[:, 1, 1] < -0.5).float().mean()) > 0.95


def test_sample_hands_bundle_and_handedness():
    gen = torch.Generator().manual_seed(4)
    sample = sample_hands(500, gen)
    angles, shape, viewpoint, is_left = sample
    assert isinstance(sample, HandPoseSample) and shape.batch_size == 500
    assert angles.shape == (500, 20) and viewpoint.shape == (500, 3, 3) and is_left.dtype == torch.bool
    assert 0.4 < float(is_left.float().mean()) < 0.6
    keypoints = sample.camera_keypoints(torch.tensor([0.0, 0.0, 400.0]).expand(500, 3))
    assert keypoints.shape == (500, 21, 3)
    assert not bool(sample_handedness(100, gen, left_fraction=0.0).any())
