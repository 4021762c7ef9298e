"""Forward kinematics of a 21-joint right hand, batched in torch.

Hand frame (right hand): origin at the wrist keypoint, x toward the thumb, y toward the
fingers, z out of the palm; millimetres. A left hand is the mirror image (x -> -x) of a right
hand, applied by the caller after the kinematics (see ``mirror_to_left``).

Joint angles: ``(B, 20)`` radians, five fingers (thumb, index, middle, ring, pinky) x four
values ``[base_flex, base_abd, mid_flex, end_flex]``. For the fingers these are MCP flexion,
MCP abduction, PIP flexion, DIP flexion; for the thumb CMC flexion (across the palm), CMC
palmar abduction, MCP flexion, IP flexion. Flexion bends toward the palm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.hand.joints import NUM_JOINTS

NUM_ANGLES = 20
ANGLES_PER_FINGER = 4


def rot_x(angle: torch.Tensor) -> torch.Tensor:
    """Rotation about x, (...,) -> (..., 3, 3). Positive angles turn +y toward +z."""
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    return torch.stack([one, zero, zero, zero, c, -s, zero, s, c], dim=-1).unflatten(-1, (3, 3))


def rot_y(angle: torch.Tensor) -> torch.Tensor:
    """Rotation about y, (...,) -> (..., 3, 3). Positive angles turn +z toward +x."""
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    return torch.stack([c, zero, s, zero, one, zero, -s, zero, c], dim=-1).unflatten(-1, (3, 3))


def rot_z(angle: torch.Tensor) -> torch.Tensor:
    """Rotation about z, (...,) -> (..., 3, 3). Positive angles turn +x toward +y."""
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    return torch.stack([c, -s, zero, s, c, zero, zero, zero, one], dim=-1).unflatten(-1, (3, 3))


@dataclass
class HandShape:
    """Per-hand skeleton geometry (all tensors batched over B hands).

    base_positions: (B, 5, 3) mm, hand frame: thumb CMC keypoint and the four finger MCPs.
    base_rotations: (B, 5, 3, 3): rest orientation of each finger chain; its local +y axis
        points along the finger's first segment at zero angles, local x is the flexion axis.
    segment_lengths: (B, 5, 3) mm: base->2nd, 2nd->3rd, 3rd->tip keypoint per finger.
    """

    base_positions: torch.Tensor
    base_rotations: torch.Tensor
    segment_lengths: torch.Tensor

    @property
    def batch_size(self) -> int:
        return self.base_positions.shape[0]

    def scaled(self, scale: torch.Tensor) -> "HandShape":
        """The same proportions scaled by ``scale`` (B,)."""
        s = scale.reshape(-1, 1, 1)
        return HandShape(self.base_positions * s, self.base_rotations, self.segment_lengths * s)

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> "HandShape":
        return HandShape(
            self.base_positions.to(device, dtype),
            self.base_rotations.to(device, dtype),
            self.segment_lengths.to(device, dtype),
        )


# Mean adult hand in keypoint terms (anthropometric bone ratios, checked against the 3D keypoints of RHD
# and InterHand2.6M): the wrist keypoint is the centre of the wrist, the thumb base is the CMC,
# the tips sit at the visible tip surface. Every length is a keypoint-proportion ratio times the
# reference length wrist->middle MCP.
MEAN_REFERENCE_MM = 90.0
# Knuckles (thumb CMC, finger MCPs), hand frame, mm. They are not coplanar: as in the datasets,
# the thumb CMC sits ~20 mm and the index MCP ~8 mm palmar of the wrist/middle/pinky plane.
MEAN_BASE_POSITIONS_MM = (
    (22.5, 25.0, 20.5),
    (21.5, 88.0, 8.0),
    (0.0, 90.0, 0.0),
    (-19.0, 83.2, -2.0),
    (-38.0, 71.5, 0.0),
)
# Rest direction of each chain: turned toward +x (thumb side) from +y, then raised toward the
# palm side (+z). Fingers splay less than their knuckles; the thumb points out and forward.
MEAN_CHAIN_AZIMUTH_DEG = (40.0, 5.0, 0.0, -5.0, -12.0)
MEAN_CHAIN_ELEVATION_DEG = (10.0, 0.0, 0.0, 0.0, 0.0)
THUMB_TWIST_DEG = -60.0  # the thumb is pronated: its flexion moves it across the palm
# base->2nd, 2nd->3rd, 3rd->tip keypoint; ratios to the reference length (thumb, index,
# middle, ring, pinky) 0.44/0.36/0.31, 0.44/0.29/0.27, 0.46/0.33/0.28, 0.41/0.31/0.27, 0.35/0.22/0.22.
MEAN_SEGMENTS_MM = (
    (39.6, 32.4, 27.9),
    (39.6, 26.1, 24.3),
    (41.4, 29.7, 25.2),
    (36.9, 27.9, 24.3),
    (31.5, 19.8, 19.8),
)


def chain_rotations(azimuth: torch.Tensor, elevation: torch.Tensor, twist: torch.Tensor) -> torch.Tensor:
    """Rest orientation of finger chains from angles (..., 5) radians -> (..., 5, 3, 3).

    ``azimuth`` turns the chain's +y toward +x, ``elevation`` then raises it toward +z (palm
    side), ``twist`` rolls it about its own axis (the thumb's pronation).
    """
    return rot_z(-azimuth) @ rot_x(elevation) @ rot_y(twist)


def mean_hand_shape(batch_size: int = 1, device: torch.device | str = "cpu") -> HandShape:
    """The mean adult right hand, repeated ``batch_size`` times."""
    positions = torch.tensor(MEAN_BASE_POSITIONS_MM, dtype=torch.float32)
    deg = math.pi / 180
    twist = torch.zeros(5)
    twist[0] = THUMB_TWIST_DEG * deg
    rotations = chain_rotations(
        torch.tensor(MEAN_CHAIN_AZIMUTH_DEG) * deg, torch.tensor(MEAN_CHAIN_ELEVATION_DEG) * deg, twist
    )
    lengths = torch.tensor(MEAN_SEGMENTS_MM, dtype=torch.float32)
    return HandShape(
        positions[None].expand(batch_size, -1, -1).to(device),
        rotations[None].expand(batch_size, -1, -1, -1).to(device),
        lengths[None].expand(batch_size, -1, -1).to(device),
    )


def forward_kinematics(angles: torch.Tensor, shape: HandShape) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint positions and bone frames of right hands in the hand frame.

    Args:
        angles: (B, 20) radians, layout in the module docstring.
        shape: the hands' geometry, batch B (or 1, broadcast).
    Returns:
        joints: (B, 21, 3) mm, internal joint order, wrist at the origin.
        frames: (B, 21, 3, 3) world rotation of the bone that leaves each joint (the palm's
            frame, identity, for the wrist; a fingertip repeats its last segment's frame).
            Skinning uses ``frames @ rest_frames^T`` as each bone's rotation.
    """
    batch = angles.shape[0]
    a = angles.reshape(batch, 5, ANGLES_PER_FINGER)
    # All five fingers at once (few large ops, not many tiny ones: interactive IK calls this often).
    local = (
        rot_z(a[..., 1]) @ rot_x(a[..., 0]),
        rot_x(a[..., 2]),
        rot_x(a[..., 3]),
    )
    rotation = shape.base_rotations.to(angles.dtype).expand(batch, -1, -1, -1)
    position = shape.base_positions.to(angles.dtype).expand(batch, -1, -1)
    lengths = shape.segment_lengths.to(angles.dtype).expand(batch, -1, -1)
    positions, rotations = [position], []
    for k in range(3):
        rotation = rotation @ local[k]
        rotations.append(rotation)
        # The segment runs along the bone frame's +y axis (its second column).
        position = position + rotation[..., :, 1] * lengths[..., k : k + 1]
        positions.append(position)
    rotations.append(rotation)  # a fingertip repeats its last segment's frame
    # Per finger the joints are base, 2nd, 3rd, tip: the internal order after the wrist.
    finger_points = torch.stack(positions, dim=2).reshape(batch, NUM_JOINTS - 1, 3)
    finger_frames = torch.stack(rotations, dim=2).reshape(batch, NUM_JOINTS - 1, 3, 3)
    joints = torch.cat([angles.new_zeros(batch, 1, 3), finger_points], dim=1)
    palm = torch.eye(3, dtype=angles.dtype, device=angles.device).expand(batch, 1, 3, 3)
    frames = torch.cat([palm, finger_frames], dim=1)
    return joints, frames


def mirror_to_left(points: torch.Tensor, is_left: torch.Tensor) -> torch.Tensor:
    """Mirror x for the hands flagged left. points (B, ..., 3), is_left (B,) bool."""
    sign = 1.0 - 2.0 * is_left.to(points.dtype)
    factor = torch.ones(points.shape[0], 3, dtype=points.dtype, device=points.device)
    factor[:, 0] = sign
    return points * factor.reshape(points.shape[0], *([1] * (points.dim() - 2)), 3)
