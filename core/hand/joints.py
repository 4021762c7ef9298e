"""The project's one joint order, and converters from and to the public datasets' orders.

Internal order = FreiHAND / MediaPipe / OpenPose order (21 joints):

    0 wrist,
    1-4   thumb  CMC (thumb base), MCP, IP, tip
    5-8   index  MCP, PIP, DIP, tip
    9-12  middle MCP, PIP, DIP, tip
    13-16 ring   MCP, PIP, DIP, tip
    17-20 pinky  MCP, PIP, DIP, tip

All arrays of keypoints are ``(..., 21, D)``; converters index the joint axis (``-2``).
"""
from __future__ import annotations

import numpy as np

NUM_JOINTS = 21
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
JOINT_NAMES = ("wrist",) + tuple(
    f"{finger}_{part}"
    for finger, parts in zip(FINGERS, [("cmc", "mcp", "ip", "tip")] + [("mcp", "pip", "dip", "tip")] * 4)
    for part in parts
)
WRIST = 0
MIDDLE_MCP = 9
MIDDLE_PIP = 10
PINKY_MCP = 17
FINGER_TIPS = (4, 8, 12, 16, 20)

# Parent of each joint (wrist has none): the skeleton's bones are (parent[j], j) for j >= 1.
PARENTS = (-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19)
BONES = tuple((PARENTS[j], j) for j in range(1, NUM_JOINTS))


def finger_joints(finger: int) -> tuple[int, int, int, int]:
    """Internal indices of one finger's four joints, base -> tip (finger 0 = thumb)."""
    first = 1 + 4 * finger
    return (first, first + 1, first + 2, first + 3)


# RHD: wrist, then each finger (thumb, index, middle, ring, pinky) listed tip -> base.
RHD_FROM_INTERNAL = np.array([0] + [1 + 4 * f + (3 - k) for f in range(5) for k in range(4)])
# internal[i] = rhd[RHD_TO_INTERNAL[i]]; the permutation is its own inverse.
RHD_TO_INTERNAL = np.argsort(RHD_FROM_INTERNAL)

# STB: palm centre (not the wrist), then pinky, ring, middle, index, thumb, each base -> tip.
_STB_FINGER_SLOT = {4: 0, 3: 1, 2: 2, 1: 3, 0: 4}  # internal finger -> STB finger slot
STB_TO_INTERNAL = np.array([0] + [1 + 4 * _STB_FINGER_SLOT[f] + k for f in range(5) for k in range(4)])

FREIHAND_TO_INTERNAL = np.arange(NUM_JOINTS)


def from_rhd(keypoints: np.ndarray) -> np.ndarray:
    """RHD order (..., 21, D) -> internal order (..., 21, D)."""
    return np.asarray(keypoints)[..., RHD_TO_INTERNAL, :]


def to_rhd(keypoints: np.ndarray) -> np.ndarray:
    """Internal order (..., 21, D) -> RHD order (..., 21, D)."""
    return np.asarray(keypoints)[..., RHD_FROM_INTERNAL, :]


def from_stb(keypoints: np.ndarray) -> np.ndarray:
    """STB order (..., 21, 3) -> internal order.

    STB's joint 0 is the palm centre, which the protocol defines as the mean of the wrist and
    the middle MCP; the wrist is therefore recovered as ``2 * palm - middle_mcp``.
    """
    out = np.asarray(keypoints, dtype=np.float64)[..., STB_TO_INTERNAL, :].copy()
    out[..., WRIST, :] = 2.0 * out[..., WRIST, :] - out[..., MIDDLE_MCP, :]
    return out


def to_stb(keypoints: np.ndarray) -> np.ndarray:
    """Internal order (..., 21, 3) -> STB order, joint 0 becoming the palm centre."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    out = np.empty_like(keypoints)
    out[..., STB_TO_INTERNAL, :] = keypoints
    out[..., 0, :] = palm_centre(keypoints)
    return out


def from_freihand(keypoints: np.ndarray) -> np.ndarray:
    """FreiHAND / MediaPipe / OpenPose order is the internal order: a copy."""
    return np.array(keypoints, copy=True)


to_freihand = from_freihand


def palm_centre(keypoints: np.ndarray) -> np.ndarray:
    """The protocol's palm root: mean of wrist and middle MCP, (..., 21, D) -> (..., D)."""
    keypoints = np.asarray(keypoints)
    return 0.5 * (keypoints[..., WRIST, :] + keypoints[..., MIDDLE_MCP, :])


def mirror_x(points: np.ndarray) -> np.ndarray:
    """Mirror points (..., 3) across the x = 0 plane: turns a right hand into a left one."""
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., 0] = -out[..., 0]
    return out
