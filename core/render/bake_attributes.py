"""Per-point and per-keypoint attributes baked with the hand (numpy, bake time only)."""
from __future__ import annotations

import numpy as np

from core.hand.joints import FINGER_TIPS, finger_joints
from core.render.hand_sdf import HandSDF


def finger_bone(finger: int, segment: int) -> int:
    """Bone index of a digit's segment (segment 0 starts at the CMC / MCP): palm 0, forearm 1."""
    return 2 + 3 * finger + segment


def ambient_occlusion(sdf_fn, p: np.ndarray, n: np.ndarray, strength: float) -> np.ndarray:
    """Classic distance-field occlusion along the normal: how much the field falls short of the step."""
    steps = (1.5, 3.0, 6.0, 11.0, 18.0)
    occlusion = np.zeros(len(p))
    total = 0.0
    for i, h in enumerate(steps):
        weight = 0.6**i
        occlusion += weight * np.clip(h - sdf_fn(p + n * h), 0.0, None) / h
        total += weight
    return np.clip(1.0 - strength * occlusion / total, 0.0, 1.0)


def fibonacci_directions(count: int = 96) -> np.ndarray:
    """Nearly uniform unit vectors (count, 3) on the sphere."""
    i = np.arange(count) + 0.5
    z = 1.0 - 2.0 * i / count
    r = np.sqrt(1.0 - z * z)
    phi = np.pi * (1.0 + 5.0**0.5) * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def keypoint_depths(sdf: HandSDF, joints: np.ndarray, frames: np.ndarray, max_mm: float = 30.0) -> np.ndarray:
    """(21, D) mm: distance from each keypoint to where a ray toward direction d leaves the hand.

    Directions are ``fibonacci_directions()`` in the keypoint's bone frame. A view that finds no
    more of the hand in front of a keypoint than this sees it (self-occlusion test). Fingertip
    keypoints sit on the surface, where a pixel's footprint already holds the pad curving toward
    the camera: their rays start at the tip's centre, one tip radius back.
    """
    local = fibonacci_directions()
    steps = np.arange(0.0, max_mm + 0.5, 0.5)
    out = np.zeros((len(joints), len(local)))
    for j, (joint, frame) in enumerate(zip(joints, frames)):
        dirs = local @ frame.T
        if j in FINGER_TIPS:
            joint = joint - frame[:, 1] * sdf.config.finger_radii_mm[(j - 1) // 4][3]
        samples = joint + dirs[:, None, :] * steps[None, :, None]
        inside = sdf.distance(samples.reshape(-1, 3)).reshape(len(dirs), len(steps)) < 0
        exit_index = np.where(inside.all(axis=1), len(steps) - 1, np.argmin(inside, axis=1))
        out[j] = steps[exit_index]
    return out


def creases_and_redness(p, joints, weights, palmar) -> tuple[np.ndarray, np.ndarray]:
    """Thin flexion creases on the palm side of the finger joints, and redder fingertip pads and
    knuckle backs: small cues that make a smooth surface read as skin."""
    crease = np.zeros(len(p))
    redness = np.zeros(len(p))
    width = 0.9  # mm, half-width of a crease line
    for f in range(5):
        idx = finger_joints(f)
        axis = [(joints[idx[k + 1]] - joints[idx[k]]) for k in range(3)]
        length = [np.linalg.norm(a) for a in axis]
        t = [(p - joints[idx[k]]) @ (axis[k] / length[k]) for k in range(3)]  # signed, unclamped
        near_finger = sum(weights[:, finger_bone(f, k)] for k in range(3))
        # Creases just past the PIP and DIP, and the finger's base crease a third up its first segment.
        for k, position in ((1, 1.5), (2, 1.5), (0, 0.33 * length[0])):
            line = np.exp(-0.5 * ((t[k] - position) / width) ** 2) * (near_finger > 0.5)
            crease = np.maximum(crease, line)
        tip = np.clip((t[2] / length[2] - 0.45) / 0.4, 0, 1) * weights[:, finger_bone(f, 2)]
        knuckle = np.maximum(np.exp(-0.5 * (t[0] / 5.0) ** 2), np.exp(-0.5 * (t[1] / 4.0) ** 2)) * (near_finger > 0.3)
        redness = np.maximum(redness, np.maximum(tip * palmar, knuckle * (1 - palmar)))
    return crease * palmar, np.clip(redness, 0, 1)


def value_noise_3d(p: np.ndarray, period_mm: float, seed: int) -> np.ndarray:
    """Smooth pseudo-random field at points (N, 3): a sum of random plane waves."""
    rng = np.random.default_rng(seed)
    out = np.zeros(len(p))
    for _ in range(12):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        freq = 2 * np.pi / (period_mm * rng.uniform(0.6, 1.6))
        out += np.cos(p @ direction * freq + rng.uniform(0, 2 * np.pi))
    return out / np.sqrt(6.0)
