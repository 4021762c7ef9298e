"""Hand-shape variation and skeleton measurements.

``sample_hand_shapes`` draws adult right hands around ``mean_hand_shape``: an overall size
(+-15 % by default) and small per-bone proportion changes, kept inside the keypoint-proportion
ranges measured on adult hands (each bone divided by the wrist->middle-MCP length, the
*reference length*) and the ranges of angles between neighbouring wrist->knuckle bones.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.hand.joints import BONES, MIDDLE_MCP, WRIST
from core.hand.kinematics import (
    MEAN_BASE_POSITIONS_MM,
    MEAN_CHAIN_AZIMUTH_DEG,
    MEAN_CHAIN_ELEVATION_DEG,
    MEAN_REFERENCE_MM,
    MEAN_SEGMENTS_MM,
    THUMB_TWIST_DEG,
    HandShape,
    chain_rotations,
)

# (lower, upper) of bone / reference length per digit, [root, 1st, 2nd, 3rd segment]; BONES
# order is digit-major with the same four bones, so ``flatten`` gives the (20,) BONES order.
PROPORTION_RANGES: tuple[tuple[tuple[float, float], ...], ...] = (
    ((0.39, 0.62), (0.34, 0.53), (0.32, 0.46), (0.25, 0.46)),
    ((0.98, 1.08), (0.30, 0.57), (0.26, 0.37), (0.21, 0.38)),
    ((1.00, 1.00), (0.28, 0.68), (0.26, 0.42), (0.25, 0.41)),
    ((0.92, 1.02), (0.28, 0.65), (0.23, 0.37), (0.25, 0.46)),
    ((0.85, 1.05), (0.29, 0.44), (0.15, 0.31), (0.16, 0.33)),
)
# Angles (deg) between neighbouring wrist->knuckle bones: thumb-index, index-middle,
# middle-ring, ring-little.
KNUCKLE_ANGLE_RANGES_DEG: tuple[tuple[float, float], ...] = ((26.0, 42.0), (12.0, 20.0), (10.0, 17.0), (13.0, 20.0))
KNUCKLES = (1, 5, 9, 13, 17)


@dataclass
class ShapeVariation:
    """How far sampled hands stray from the mean hand (uniform distributions)."""

    scale_range: tuple[float, float] = (0.85, 1.15)  # overall size factor
    segment_jitter: float = 0.08  # relative change of each finger segment
    root_jitter: float = 0.03  # relative change of each wrist->knuckle distance (not the middle's)
    # Turn of each knuckle about the palm normal, deg (thumb, index, middle, ring, pinky); small
    # enough that the knuckle angles stay inside KNUCKLE_ANGLE_RANGES_DEG.
    knuckle_azimuth_jitter_deg: tuple[float, ...] = (2.5, 1.5, 0.0, 1.0, 1.0)
    chain_azimuth_jitter_deg: float = 2.0  # extra turn of each finger's rest direction
    thumb_elevation_jitter_deg: float = 4.0


def _uniform(shape: tuple[int, ...], low: torch.Tensor | float, high: torch.Tensor | float,
             generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator, dtype=torch.float64)


def sample_hand_shapes(
    batch: int,
    generator: torch.Generator | None = None,
    variation: ShapeVariation | None = None,
    device: torch.device | str = "cpu",
) -> HandShape:
    """Random adult right hands (B = ``batch``), float32 on ``device``.

    Draws on the CPU with ``generator`` so results do not depend on the device.
    """
    variation = variation or ShapeVariation()
    deg = math.pi / 180
    scale = _uniform((batch, 1), *variation.scale_range, generator)
    reference = MEAN_REFERENCE_MM * scale  # (B, 1)

    ranges = torch.tensor(PROPORTION_RANGES, dtype=torch.float64)  # (5, 4, 2)
    mean_pos = torch.tensor(MEAN_BASE_POSITIONS_MM, dtype=torch.float64)
    mean_root = mean_pos.norm(dim=-1) / MEAN_REFERENCE_MM  # (5,)
    mean_seg = torch.tensor(MEAN_SEGMENTS_MM, dtype=torch.float64) / MEAN_REFERENCE_MM  # (5, 3)
    root_ratio = mean_root * (1 + _uniform((batch, 5), -variation.root_jitter, variation.root_jitter, generator))
    seg_ratio = mean_seg * (1 + _uniform((batch, 5, 3), -variation.segment_jitter, variation.segment_jitter, generator))
    root_ratio = torch.minimum(torch.maximum(root_ratio, ranges[:, 0, 0]), ranges[:, 0, 1])
    seg_ratio = torch.minimum(torch.maximum(seg_ratio, ranges[:, 1:, 0]), ranges[:, 1:, 1])

    knuckle_jitter = torch.tensor(variation.knuckle_azimuth_jitter_deg, dtype=torch.float64) * deg
    turn = _uniform((batch, 5), -knuckle_jitter, knuckle_jitter, generator)  # (B, 5)
    c, s = torch.cos(turn), torch.sin(turn)
    # Turning about z toward +x keeps each knuckle's height above the palm plane.
    x = c * mean_pos[:, 0] + s * mean_pos[:, 1]
    y = -s * mean_pos[:, 0] + c * mean_pos[:, 1]
    direction = torch.stack([x, y, mean_pos[:, 2].expand_as(x)], dim=-1)
    direction = direction / direction.norm(dim=-1, keepdim=True)
    positions = direction * (root_ratio * reference)[..., None]

    chain_jitter = variation.chain_azimuth_jitter_deg * deg
    azimuth = torch.tensor(MEAN_CHAIN_AZIMUTH_DEG, dtype=torch.float64) * deg + turn
    azimuth = azimuth + _uniform((batch, 5), -chain_jitter, chain_jitter, generator)
    elevation = torch.tensor(MEAN_CHAIN_ELEVATION_DEG, dtype=torch.float64).repeat(batch, 1) * deg
    thumb_jitter = variation.thumb_elevation_jitter_deg * deg
    elevation[:, 0] += _uniform((batch,), -thumb_jitter, thumb_jitter, generator)
    twist = torch.zeros(batch, 5, dtype=torch.float64)
    twist[:, 0] = THUMB_TWIST_DEG * deg
    rotations = chain_rotations(azimuth, elevation, twist)

    lengths = seg_ratio * reference[..., None]
    return HandShape(positions, rotations, lengths).to(device, torch.float32)


def bone_lengths(joints: torch.Tensor) -> torch.Tensor:
    """Length of each skeleton bone, ``joints`` (..., 21, 3) -> (..., 20) in ``BONES`` order."""
    parents = [p for p, _ in BONES]
    children = [c for _, c in BONES]
    return (joints[..., children, :] - joints[..., parents, :]).norm(dim=-1)


def reference_length(joints: torch.Tensor) -> torch.Tensor:
    """The wrist->middle-MCP length, (..., 21, 3) -> (...)."""
    return (joints[..., MIDDLE_MCP, :] - joints[..., WRIST, :]).norm(dim=-1)


def keypoint_proportions(joints: torch.Tensor) -> torch.Tensor:
    """Bone lengths divided by the reference length, (..., 21, 3) -> (..., 20), ``BONES`` order."""
    return bone_lengths(joints) / reference_length(joints)[..., None]


def knuckle_angles(joints: torch.Tensor) -> torch.Tensor:
    """Angles (deg) between neighbouring wrist->knuckle bones, (..., 21, 3) -> (..., 4).

    Order: thumb-index, index-middle, middle-ring, ring-little (``KNUCKLE_ANGLE_RANGES_DEG``).
    """
    bones = joints[..., KNUCKLES, :] - joints[..., WRIST : WRIST + 1, :]
    bones = bones / bones.norm(dim=-1, keepdim=True)
    cosine = (bones[..., :-1, :] * bones[..., 1:, :]).sum(dim=-1).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.acos(cosine))
