"""Latent walks: the frames of an animation through the latent space. No Qt."""
from __future__ import annotations

import numpy as np

from app.state import LATENT_RANGE


def dimension_walk(latent: np.ndarray, dim: int, steps: int = 60, amplitude: float = LATENT_RANGE) -> np.ndarray:
    """(steps, D): ``latent`` with dimension ``dim`` swept value -> +amplitude -> -amplitude -> value."""
    start = float(latent[dim])
    phase = np.linspace(0.0, 1.0, steps, endpoint=False)
    # a triangle wave through the current value, so the loop has no jump
    wave = np.interp(phase, [0.0, 0.25, 0.75, 1.0], [start, amplitude, -amplitude, start])
    frames = np.repeat(np.asarray(latent, np.float64)[None], steps, axis=0)
    frames[:, dim] = wave
    return frames


def ping_pong(path: np.ndarray) -> np.ndarray:
    """(T, D) -> (2T - 2, D): forward then back, so a looping walk does not jump."""
    return np.concatenate([path, path[-2:0:-1]], axis=0)
