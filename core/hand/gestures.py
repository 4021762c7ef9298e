"""Named gesture presets (the poses users of pose editors ask for) as joint angles.

Each ``Gesture`` member holds a ``GesturePreset``: flexion of the four fingers, a spread, and
the thumb's four angles, in degrees in the layout of ``core.hand.kinematics``. For pinch and
OK the thumb angles are only a starting point: ``gesture_angles`` solves them by inverse
kinematics so that the thumb tip meets the index tip of the given hand shape.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import torch

from core.hand.joints import FINGER_TIPS
from core.hand.kinematics import NUM_ANGLES, HandShape, forward_kinematics, mean_hand_shape
from core.hand.ik import SolverConfig, solve_fingers
from core.hand.limits import clamp_angles

# (MCP, PIP, DIP) flexion, degrees
STRAIGHT = (0.0, 0.0, 0.0)
RELAXED = (12.0, 18.0, 10.0)
CURLED = (85.0, 100.0, 65.0)
HOOKED = (15.0, 85.0, 60.0)
# Abduction per finger (index, middle, ring, pinky) at spread 1; > 0 turns toward the pinky.
SPREAD_ABDUCTION_DEG = (-14.0, -2.0, 9.0, 15.0)
# Thumb [CMC flexion, CMC abduction (< 0 = palmar), MCP, IP], degrees
THUMB_RELAXED = (5.0, -15.0, 10.0, 10.0)
THUMB_EXTENDED = (-15.0, -5.0, 0.0, 0.0)
THUMB_TUCKED = (40.0, -30.0, 45.0, 45.0)  # folded over the curled middle phalanges
THUMB_OPPOSED = (15.0, -25.0, 30.0, 35.0)  # start of the pinch / OK solve


@dataclass(frozen=True)
class GesturePreset:
    """One gesture: finger flexion (index, middle, ring, pinky), spread 0..1, thumb angles (deg)."""

    name: str
    fingers_deg: tuple[tuple[float, float, float], ...]
    spread: float
    thumb_deg: tuple[float, float, float, float]
    thumb_meets_index: bool = False


class Gesture(Enum):
    """The gesture presets; ``Gesture.PINCH.value`` is its ``GesturePreset``."""

    OPEN = GesturePreset("open", ((8.0, 10.0, 5.0),) * 4, 0.3, THUMB_RELAXED)
    SPREAD = GesturePreset("spread", (STRAIGHT,) * 4, 1.0, THUMB_EXTENDED)
    FIST = GesturePreset("fist", (CURLED,) * 4, 0.0, THUMB_TUCKED)
    POINT = GesturePreset("point", (STRAIGHT, CURLED, CURLED, CURLED), 0.0, THUMB_TUCKED)
    VICTORY = GesturePreset("victory", (STRAIGHT, STRAIGHT, CURLED, CURLED), 0.9, THUMB_TUCKED)
    THREE = GesturePreset("three", (STRAIGHT, STRAIGHT, STRAIGHT, CURLED), 0.5, (45.0, -35.0, 45.0, 45.0))
    THUMBS_UP = GesturePreset("thumbs_up", (CURLED,) * 4, 0.0, (0.0, -15.0, 0.0, 0.0))
    CALL = GesturePreset("call", (CURLED, CURLED, CURLED, STRAIGHT), 1.0, THUMB_EXTENDED)
    ROCK = GesturePreset("rock", (STRAIGHT, CURLED, CURLED, STRAIGHT), 0.6, THUMB_TUCKED)
    PINCH = GesturePreset("pinch", ((45.0, 60.0, 40.0), RELAXED, RELAXED, RELAXED), 0.2, THUMB_OPPOSED, True)
    OK = GesturePreset("ok", ((45.0, 65.0, 45.0), STRAIGHT, STRAIGHT, (5.0, 5.0, 5.0)), 0.6, THUMB_OPPOSED, True)
    CLAW = GesturePreset("claw", (HOOKED,) * 4, 0.7, (15.0, -40.0, 20.0, 40.0))


GESTURES: tuple[Gesture, ...] = tuple(Gesture)


def preset_angles(preset: GesturePreset) -> torch.Tensor:
    """The preset's nominal angles (20,) radians (thumb not yet solved for pinch / OK)."""
    values = list(preset.thumb_deg)
    for (mcp, pip, dip), abduction in zip(preset.fingers_deg, SPREAD_ABDUCTION_DEG):
        values += [mcp, preset.spread * abduction, pip, dip]
    return torch.tensor(values, dtype=torch.float32) * (math.pi / 180)


def _solve_tip_to_tip(angles: torch.Tensor, shape: HandShape, moving: int, iterations: int) -> torch.Tensor:
    """Move finger ``moving`` (0 thumb, 1 index) so its tip reaches the other one's tip."""
    joints, _ = forward_kinematics(angles, shape)
    mover, goal = FINGER_TIPS[moving], FINGER_TIPS[1 - moving]
    targets = torch.zeros_like(joints)
    targets[:, mover] = joints[:, goal]
    weights = torch.zeros(joints.shape[:2], dtype=angles.dtype, device=angles.device)
    weights[:, mover] = 1.0
    free = torch.zeros(NUM_ANGLES, dtype=torch.bool, device=angles.device)
    free[4 * moving : 4 * moving + 4] = True
    # The pull toward the preset keeps the solved thumb close to the preset's look.
    config = SolverConfig(iterations=iterations, damping=1e-2, coupling_weight=10.0 * moving, prior_weight=2.0)
    return solve_fingers(angles, shape, targets, weights, free, config)


def meet_thumb_to_index(angles: torch.Tensor, shape: HandShape, iterations: int = 20) -> torch.Tensor:
    """Make the thumb tip meet the index tip, (B, 20) -> (B, 20) within limits.

    The thumb's four angles are solved first; where the index tip is out of the thumb's reach
    the index then bends toward the thumb tip. The other fingers keep their angles.
    """
    angles = _solve_tip_to_tip(angles, shape, moving=0, iterations=iterations)
    return _solve_tip_to_tip(angles, shape, moving=1, iterations=iterations // 2)


def gesture_angles(
    gesture: Gesture,
    batch: int = 1,
    shape: HandShape | None = None,
    jitter_deg: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Angles (B, 20) radians of a gesture, within limits.

    Args:
        gesture: which preset.
        batch: number of copies B.
        shape: hands (batch B or 1) the thumb is solved for (pinch / OK); default the mean hand.
        jitter_deg: uniform +- noise added to every angle before clamping (and before the
            thumb solve), so that repeated samples differ.
        generator: random source for the jitter.
    """
    angles = preset_angles(gesture.value).repeat(batch, 1)
    if jitter_deg > 0:
        noise = torch.rand(batch, NUM_ANGLES, generator=generator) * 2.0 - 1.0
        angles = angles + noise * math.radians(jitter_deg)
    angles = clamp_angles(angles)
    if gesture.value.thumb_meets_index:
        shape = shape if shape is not None else mean_hand_shape()
        angles = meet_thumb_to_index(angles.to(shape.base_positions.device), shape).cpu()
    return angles
