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


def camera_to_scene(points: np.ndarray) -> np.ndarray:
    """(N, 3) camera frame -> GL scene frame (x, z, -y)."""
    return np.asarray(points, np.float64) @ CAMERA_TO_SCENE.T


def scene_to_camera(points: np.ndarray) -> np.ndarray:
    """(N, 3) GL scene frame -> camera frame (the inverse of :func:`camera_to_scene`)."""
    return np.asarray(points, np.float64) @ CAMERA_TO_SCENE


def project_to_widget(scene_points: np.ndarray, mvp: np.ndarray, width: float, height: float
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Scene points (N, 3) through the (4, 4) model-view-projection matrix -> widget pixels
    (N, 2) (origin top left) and NDC depth (N,)."""
    homog = np.c_[scene_points, np.ones(len(scene_points))] @ mvp.T
    ndc = homog[:, :3] / homog[:, 3:4]
    px = np.stack([(ndc[:, 0] + 1) / 2 * width, (1 - ndc[:, 1]) / 2 * height], axis=1)
    return px, ndc[:, 2]


def unproject_from_widget(x: float, y: float, depth: float, mvp: np.ndarray, width: float, height: float
                          ) -> np.ndarray:
    """Widget pixel (x, y) at NDC ``depth`` -> scene point (3,) (inverse of :func:`project_to_widget`)."""
    ndc = np.array([2 * x / width - 1, 1 - 2 * y / height, depth, 1.0])
    world = np.linalg.solve(mvp, ndc)
    return world[:3] / world[3]


def nearest_point(pixels: np.ndarray, x: float, y: float, radius: float) -> int | None:
    """Index of the pixel position (N, 2) nearest (x, y) if it lies within ``radius``, else None."""
    if len(pixels) == 0:
        return None
    distance = np.hypot(pixels[:, 0] - x, pixels[:, 1] - y)
    index = int(np.argmin(distance))
    return index if distance[index] <= radius else None
