"""Linking the 3D viewport's camera to the hand's viewpoint. Plain numpy, no Qt.

The viewport draws a camera-frame point (x, y, z) at scene point (x, z, -y) and its default
camera (azimuth -90 deg, elevation 0) looks along the camera's +z, as the synthesised image
does. Orbiting to another azimuth/elevation shows the hand as a camera there would see it; the
same picture comes from the default camera with the hand turned by the inverse rotation, which
is what :func:`hand_rotation_for_view` returns (camera frame), so the image can follow the view.
"""
from __future__ import annotations

import numpy as np

DEFAULT_AZIMUTH = -90.0
DEFAULT_ELEVATION = 0.0
# camera frame -> scene frame: (x, y, z) -> (x, z, -y)
CAMERA_TO_SCENE = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def camera_basis(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """(3, 3) columns = the orbit camera's right, up and backward axes in the scene frame."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    back = np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
    right = np.cross([0.0, 0.0, 1.0], back)
    norm = np.linalg.norm(right)
    right = right / norm if norm > 1e-9 else np.array([1.0, 0.0, 0.0])  # looking straight down/up
    up = np.cross(back, right)
    return np.stack([right, up, back], axis=1)


def hand_rotation_for_view(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Rotation (3, 3) in the camera frame that makes the default view look like this orbit view."""
    view = camera_basis(azimuth_deg, elevation_deg) @ camera_basis(DEFAULT_AZIMUTH, DEFAULT_ELEVATION).T
    return CAMERA_TO_SCENE.T @ view.T @ CAMERA_TO_SCENE
