"""Anatomical joint limits for the ``(B, 20)`` joint-angle layout of ``core.hand.kinematics``.

Layout: five fingers (thumb, index, middle, ring, pinky) x ``[base_flex, base_abd, mid_flex,
end_flex]``, radians. The documented ranges, in degrees (sources: AAOS range-of-motion tables,
Shadow Hand docs):

================  ===========================  ===============
finger            angle                         range (deg)
================  ===========================  ===============
index..pinky      MCP flexion (base_flex)       -20 .. 90
index..pinky      MCP abduction (base_abd)      -15 .. 15
index..pinky      PIP flexion (mid_flex)          0 .. 110
index..pinky      DIP flexion (end_flex)          0 .. 90
thumb             CMC flexion (base_flex)       -20 .. 45
thumb             CMC abduction (base_abd)      -70 .. 10
thumb             MCP flexion (mid_flex)          0 .. 50
thumb             IP flexion (end_flex)           0 .. 80
================  ===========================  ===============

Signs (set by the forward kinematics, not by anatomy books):

- Flexion > 0 bends toward the palm (+z of the hand frame); MCP flexion < 0 is hyperextension.
- Finger abduction > 0 turns the finger toward the pinky side (-x of the hand frame), so
  spreading the hand is a negative index angle and positive ring / pinky angles. The range is
  around each finger's rest direction, which already splays (see ``mean_hand_shape``).
- Thumb CMC abduction: the FK rotates about the thumb's own z axis, and positive angles move the
  thumb *behind* the palm. **Palmar abduction (thumb raised in front of the palm) is the negative
  of this angle**: the table's "palmar abduction 0 to 70" is ``base_abd`` in [-70, 0]; the extra
  10 deg of positive range lets a flat hand's thumb lie slightly behind the palm plane.
- Thumb CMC flexion moves the thumb across the palm toward the little finger. At zero angles the
  thumb already lies ~34 deg from the index in the palm plane (radial abduction), so the clinical
  "flexion ~15 deg" past the index line is about +45 here; -20 is the clinical extension.
"""
from __future__ import annotations

import math

import torch

from core.hand.kinematics import NUM_ANGLES

ANGLE_NAMES = tuple(
    f"{finger}_{part}"
    for finger, parts in (
        ("thumb", ("cmc_flex", "cmc_abd", "mcp_flex", "ip_flex")),
        ("index", ("mcp_flex", "mcp_abd", "pip_flex", "dip_flex")),
        ("middle", ("mcp_flex", "mcp_abd", "pip_flex", "dip_flex")),
        ("ring", ("mcp_flex", "mcp_abd", "pip_flex", "dip_flex")),
        ("pinky", ("mcp_flex", "mcp_abd", "pip_flex", "dip_flex")),
    )
    for part in parts
)

_THUMB_DEG = ((-20.0, 45.0), (-70.0, 10.0), (0.0, 50.0), (0.0, 80.0))
_FINGER_DEG = ((-20.0, 90.0), (-15.0, 15.0), (0.0, 110.0), (0.0, 90.0))
LIMITS_DEG: tuple[tuple[float, float], ...] = _THUMB_DEG + _FINGER_DEG * 4
"""(lower, upper) in degrees for each of the 20 angles, in layout order."""

ANGLE_LOWER = torch.tensor([lo for lo, _ in LIMITS_DEG], dtype=torch.float32) * (math.pi / 180)
"""(20,) radians: lower limit of each angle."""
ANGLE_UPPER = torch.tensor([hi for _, hi in LIMITS_DEG], dtype=torch.float32) * (math.pi / 180)
"""(20,) radians: upper limit of each angle."""


def angle_limits(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ANGLE_LOWER, ANGLE_UPPER)`` on the device and in the dtype of ``like``."""
    return ANGLE_LOWER.to(like.device, like.dtype), ANGLE_UPPER.to(like.device, like.dtype)


def _check_layout(angles: torch.Tensor, name: str) -> None:
    if angles.shape[-1] != NUM_ANGLES:
        raise ValueError(f"{name}: expected (..., {NUM_ANGLES}) joint angles, got shape {tuple(angles.shape)}")


def clamp_angles(angles: torch.Tensor) -> torch.Tensor:
    """Clamp joint angles (..., 20) radians into the documented ranges (same shape, dtype)."""
    _check_layout(angles, "clamp_angles(angles)")
    lower, upper = angle_limits(angles)
    return torch.maximum(torch.minimum(angles, upper), lower)


def within_limits(angles: torch.Tensor, tol: float = 1e-5) -> torch.Tensor:
    """Whether every angle of each pose lies within the ranges, ``tol`` radians of slack.

    angles: (..., 20) radians. Returns (...,) bool.
    """
    _check_layout(angles, "within_limits(angles)")
    lower, upper = angle_limits(angles)
    return ((angles >= lower - tol) & (angles <= upper + tol)).all(dim=-1)
