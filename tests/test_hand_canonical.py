"""Canonical frame: exact round trip, invariance to the viewpoint, handedness, 6D rotations."""
import pytest
import torch

from core.hand.canonical import from_canonical, rotation_from_6d, rotation_to_6d, to_canonical
from core.hand.joints import MIDDLE_MCP, PINKY_MCP, WRIST
from core.hand.kinematics import forward_kinematics, mirror_to_left
from core.hand.sampling import random_rotations
from core.hand.shape import sample_hand_shapes


def _rotations(batch: int, seed: int) -> torch.Tensor:
    """Random rotations, orthonormal to float64 precision."""
    return rotation_from_6d(rotation_to_6d(random_rotations(batch, torch.Generator().manual_seed(seed)).double()))


def _random_hands(batch: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    shape = sample_hand_shapes(batch, gen)
    joints, _ = forward_kinematics(torch.rand(batch, 20, generator=gen) * 1.2 - 0.2, shape)
    rotation = _rotations(batch, seed + 100)
    is_left = torch.rand(batch, generator=gen) < 0.5
    offset = torch.randn(batch, 3, generator=gen, dtype=torch.float64) * 80 + torch.tensor([0.0, 0.0, 500.0])
    camera = mirror_to_left(joints.double(), is_left) @ rotation.transpose(1, 2) + offset[:, None]
    return joints.double(), rotation, is_left, camera


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_round_trip_is_exact_for_1000_hands(dtype):
    _, _, is_left, camera = _random_hands(1000)
    keypoints = camera.to(dtype)
    canonical = to_canonical(keypoints, is_left)
    assert canonical.pose.dtype == dtype and canonical.viewpoint.dtype == dtype
    back = from_canonical(canonical.pose, canonical.viewpoint, canonical.scale, canonical.root, canonical.is_left)
    assert float((back.double() - keypoints.double()).abs().max()) < 1e-4
    torch.testing.assert_close(canonical.keypoints(), back)


def test_canonical_frame_conventions():
    joints, rotation, is_left, camera = _random_hands(50)
    canonical = to_canonical(camera, is_left)
    pose = canonical.pose
    assert float(pose[:, WRIST].abs().max()) < 1e-9
    torch.testing.assert_close(pose[:, MIDDLE_MCP], torch.tensor([0.0, 1.0, 0.0], dtype=pose.dtype).expand(50, 3))
    assert float(pose[:, PINKY_MCP, 2].abs().max()) < 1e-9 and bool((pose[:, PINKY_MCP, 0] < 0).all())
    torch.testing.assert_close(canonical.scale, joints[:, MIDDLE_MCP].norm(dim=-1))
    # A kinematic hand is already canonical: the viewpoint is the rotation that placed it.
    torch.testing.assert_close(pose, joints / canonical.scale[:, None, None])
    torch.testing.assert_close(canonical.viewpoint, rotation)


def test_canonical_pose_is_invariant_to_viewpoint_and_handedness():
    _, _, is_left, camera = _random_hands(200, seed=3)
    spin = _rotations(200, 9)
    first = to_canonical(camera, is_left)
    turned = to_canonical(camera @ spin.transpose(1, 2) + 30.0, is_left)
    torch.testing.assert_close(turned.pose, first.pose)
    torch.testing.assert_close(turned.viewpoint, spin @ first.viewpoint)
    mirrored = camera.clone()
    mirrored[..., 0] = -mirrored[..., 0]
    torch.testing.assert_close(to_canonical(mirrored, ~is_left).pose, first.pose)


def test_viewpoints_are_proper_rotations():
    _, _, is_left, camera = _random_hands(100, seed=5)
    view = to_canonical(camera, is_left).viewpoint
    torch.testing.assert_close(torch.linalg.det(view), torch.ones(100, dtype=view.dtype))


def test_6d_round_trip_and_projection():
    rotation = random_rotations(500, torch.Generator().manual_seed(2))
    sixd = rotation_to_6d(rotation)
    assert sixd.shape == (500, 6)
    torch.testing.assert_close(rotation_from_6d(sixd), rotation, atol=1e-5, rtol=0)
    noisy = rotation_from_6d(sixd + 0.3 * torch.randn(500, 6, generator=torch.Generator().manual_seed(4)))
    torch.testing.assert_close(noisy.transpose(1, 2) @ noisy, torch.eye(3).expand(500, 3, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(noisy), torch.ones(500), atol=1e-5, rtol=0)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="to_canonical"):
        to_canonical(torch.zeros(2, 20, 3), torch.zeros(2, dtype=torch.bool))
