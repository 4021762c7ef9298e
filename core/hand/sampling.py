"""Seeded samplers of natural hand poses, viewpoints and handedness for synthetic data.

Poses (``sample_poses``): a mix of
- synergy poses: a global curl shared by all fingers plus per-finger deviations and an
  abduction spread that closes as the hand curls (Santello et al. 1998: two such components
  explain most grasping postures), with DIP ~ 2/3 PIP;
- gesture presets (``core.hand.gestures``) with angle jitter.
All angles are clamped into ``core.hand.limits``.

Viewpoints (``sample_viewpoints``): rotations taking the hand frame (x toward the thumb, y toward
the fingers, z out of the palm; for a left hand the x-mirrored frame) to an OpenCV camera frame
(x right, y down, z forward into the scene). Most are the views real photos show
in hand datasets and photos: palm or back toward the camera within ~35 deg, fingers up in the image,
forearm from below; the rest are uniform on SO(3) so every view occurs.

Every random draw happens on the CPU with the caller's ``torch.Generator``: the same seed gives
the same hands on any device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator

import torch

from core.hand.gestures import GESTURES, SPREAD_ABDUCTION_DEG, gesture_angles
from core.hand.kinematics import NUM_ANGLES, HandShape, forward_kinematics, mean_hand_shape, mirror_to_left
from core.hand.limits import clamp_angles
from core.hand.shape import ShapeVariation, sample_hand_shapes

_DEG = math.pi / 180


@dataclass
class PoseSamplerConfig:
    """Distribution of ``sample_poses``; angles in degrees."""

    preset_fraction: float = 0.3  # share of gesture presets
    preset_jitter_deg: float = 8.0
    finger_curl_deviation: float = 0.25  # std of each finger's curl around the global curl (0..1)
    angle_noise_deg: float = 6.0  # std of independent noise on every angle
    max_spread: float = 1.0  # abduction spread at zero curl, in units of SPREAD_ABDUCTION_DEG
    # Fully curled flexion (MCP, PIP) of the fingers; DIP follows PIP by 2/3.
    curled_mcp_deg: float = 85.0
    curled_pip_deg: float = 100.0
    thumb_curl_deviation: float = 0.3
    thumb_palmar_abduction_deg: tuple[float, float] = (0.0, 60.0)  # uniform


@dataclass
class ViewpointConfig:
    """Distribution of ``sample_viewpoints``."""

    typical_fraction: float = 0.75  # share of photo-like views; the rest is uniform on SO(3)
    back_fraction: float = 0.5  # of the typical views, share showing the back of the hand
    tilt_std_deg: float = 20.0  # palm normal away from the optical axis (half-normal)
    roll_std_deg: float = 25.0  # fingers away from image-up, in the image plane (normal)


@dataclass
class HandSamplerConfig:
    """Everything ``sample_hands`` draws."""

    pose: PoseSamplerConfig = field(default_factory=PoseSamplerConfig)
    shape: ShapeVariation = field(default_factory=ShapeVariation)
    viewpoint: ViewpointConfig = field(default_factory=ViewpointConfig)
    left_fraction: float = 0.5


def _normal(shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(shape, generator=generator)


def _uniform(shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(shape, generator=generator)


def sample_synergy_poses(batch: int, generator: torch.Generator | None = None,
                         config: PoseSamplerConfig | None = None) -> torch.Tensor:
    """Synergy-style poses (B, 20) radians within limits (no presets)."""
    config = config or PoseSamplerConfig()
    curl = _uniform((batch, 1), generator)
    finger_curl = (curl + config.finger_curl_deviation * _normal((batch, 4), generator)).clamp(0.0, 1.0)
    noise = config.angle_noise_deg * _normal((batch, 5, 4), generator)
    mcp = finger_curl * config.curled_mcp_deg + noise[:, 1:, 0]
    pip = finger_curl * config.curled_pip_deg + noise[:, 1:, 2]
    dip = pip * (2.0 / 3.0) + noise[:, 1:, 3]
    spread = config.max_spread * _uniform((batch, 1), generator) * (1.0 - curl)
    abduction = spread * torch.tensor(SPREAD_ABDUCTION_DEG) + 0.5 * noise[:, 1:, 1]
    fingers = torch.stack([mcp, abduction, pip, dip], dim=-1)  # (B, 4, 4)

    thumb_curl = (curl[:, 0] + config.thumb_curl_deviation * _normal((batch,), generator)).clamp(0.0, 1.0)
    low, high = config.thumb_palmar_abduction_deg
    palmar = low + (high - low) * _uniform((batch,), generator)
    thumb = torch.stack(
        [
            -10.0 + 50.0 * thumb_curl + noise[:, 0, 0],  # CMC flexion: across the palm as it curls
            -palmar,  # palmar abduction is the negative of this angle (core.hand.limits)
            45.0 * thumb_curl + noise[:, 0, 2],
            60.0 * thumb_curl + noise[:, 0, 3],
        ],
        dim=-1,
    )
    angles = torch.cat([thumb[:, None], fingers], dim=1).reshape(batch, NUM_ANGLES) * _DEG
    return clamp_angles(angles)


def sample_poses(
    batch: int,
    generator: torch.Generator | None = None,
    preset_fraction: float | None = None,
    config: PoseSamplerConfig | None = None,
    shape: HandShape | None = None,
) -> torch.Tensor:
    """Natural hand poses (B, 20) radians, always within limits (float32, CPU).

    Args:
        batch: number of poses B.
        generator: random source (seed it for reproducible data).
        preset_fraction: share of gesture presets; overrides ``config.preset_fraction``.
        config: the distribution.
        shape: hands (batch B) the pinch / OK thumbs are solved for; default the mean hand.
    """
    config = config or PoseSamplerConfig()
    fraction = config.preset_fraction if preset_fraction is None else preset_fraction
    angles = sample_synergy_poses(batch, generator, config)
    use_preset = _uniform((batch,), generator) < fraction
    choice = torch.randint(len(GESTURES), (batch,), generator=generator)
    shape = shape if shape is not None else mean_hand_shape()
    for index, gesture in enumerate(GESTURES):
        rows = torch.nonzero(use_preset & (choice == index)).flatten()
        if rows.numel() == 0:
            continue
        hands = _select(shape, rows)
        angles[rows] = gesture_angles(gesture, rows.numel(), hands, config.preset_jitter_deg, generator)
    return angles


def _select(shape: HandShape, rows: torch.Tensor) -> HandShape:
    """The hands at ``rows`` of a shape batch (a batch of one is shared by every row)."""
    if shape.batch_size == 1:
        return shape
    rows = rows.to(shape.base_positions.device)
    return HandShape(shape.base_positions[rows], shape.base_rotations[rows], shape.segment_lengths[rows])


def random_rotations(batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Rotations (B, 3, 3) uniform on SO(3) (normalised Gaussian quaternions)."""
    q = _normal((batch, 4), generator)
    w, x, y, z = (q / q.norm(dim=-1, keepdim=True)).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(batch, 3, 3)


def axis_angle_to_matrix(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues: unit axes (B, 3) and angles (B,) radians -> rotations (B, 3, 3)."""
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    cross = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(-1, 3, 3)
    s, c = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    eye = torch.eye(3, dtype=axis.dtype).expand_as(cross)
    return eye + s * cross + (1 - c) * (cross @ cross)


# Palm toward the camera, fingers up in the image: hand x -> camera x, y -> -y (up), z -> -z.
PALM_VIEW = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
# The back toward the camera: PALM_VIEW turned 180 deg about the image's vertical axis.
BACK_VIEW = torch.tensor([[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]])


def sample_typical_viewpoints(batch: int, generator: torch.Generator | None = None,
                              config: ViewpointConfig | None = None) -> torch.Tensor:
    """Photo-like hand -> camera rotations (B, 3, 3): palm or back facing, fingers up."""
    config = config or ViewpointConfig()
    back = _uniform((batch,), generator) < config.back_fraction
    base = torch.where(back[:, None, None], BACK_VIEW, PALM_VIEW)
    # Tilt about an axis in the image plane, then roll about the optical axis.
    direction = 2 * math.pi * _uniform((batch,), generator)
    tilt_axis = torch.stack([torch.cos(direction), torch.sin(direction), torch.zeros(batch)], dim=-1)
    tilt = (config.tilt_std_deg * _DEG * _normal((batch,), generator)).abs()
    roll = config.roll_std_deg * _DEG * _normal((batch,), generator)
    optical_axis = torch.tensor([0.0, 0.0, 1.0]).expand(batch, 3)
    return axis_angle_to_matrix(optical_axis, roll) @ axis_angle_to_matrix(tilt_axis, tilt) @ base


def sample_viewpoints(batch: int, generator: torch.Generator | None = None,
                      config: ViewpointConfig | None = None) -> torch.Tensor:
    """Hand -> camera rotations (B, 3, 3): ``typical_fraction`` photo-like, the rest uniform."""
    config = config or ViewpointConfig()
    typical = sample_typical_viewpoints(batch, generator, config)
    uniform = random_rotations(batch, generator)
    use_typical = _uniform((batch,), generator) < config.typical_fraction
    return torch.where(use_typical[:, None, None], typical, uniform)


def sample_handedness(batch: int, generator: torch.Generator | None = None, left_fraction: float = 0.5) -> torch.Tensor:
    """(B,) bool, True for a left hand."""
    return _uniform((batch,), generator) < left_fraction


@dataclass
class HandPoseSample:
    """One batch of sampled hands; unpacks as ``angles, shape, viewpoint, is_left = sample``.

    angles: (B, 20) radians; shape: ``HandShape`` of B right hands; viewpoint: (B, 3, 3) hand
    frame -> camera frame; is_left: (B,) bool (the hand is the x-mirror of the right hand).
    """

    angles: torch.Tensor
    shape: HandShape
    viewpoint: torch.Tensor
    is_left: torch.Tensor

    def __iter__(self) -> Iterator:
        return iter((self.angles, self.shape, self.viewpoint, self.is_left))

    def camera_keypoints(self, translation: torch.Tensor | None = None) -> torch.Tensor:
        """Keypoints (B, 21, 3) mm: ``viewpoint @ mirror_if_left(FK) + translation`` ((B, 3) or 0)."""
        joints, _ = forward_kinematics(self.angles, self.shape)
        points = mirror_to_left(joints, self.is_left) @ self.viewpoint.transpose(1, 2)
        return points if translation is None else points + translation[:, None]


def sample_hands(batch: int, generator: torch.Generator | None = None,
                 config: HandSamplerConfig | None = None) -> HandPoseSample:
    """Angles, shapes, viewpoints and handedness of B random hands (CPU, float32)."""
    config = config or HandSamplerConfig()
    shape = sample_hand_shapes(batch, generator, config.shape)
    angles = sample_poses(batch, generator, config=config.pose, shape=shape)
    viewpoint = sample_viewpoints(batch, generator, config.viewpoint)
    is_left = sample_handedness(batch, generator, config.left_fraction)
    return HandPoseSample(angles, shape, viewpoint, is_left)
