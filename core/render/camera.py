"""Place a virtual camera so the hand's keypoint box fills a set share of a square crop, centred.

The camera looks at the hand (OpenCV convention: x right, y down, z forward; pixel centres at
integer coordinates, so the principal point of an S-pixel crop is (S - 1) / 2). The hand is
moved, not the principal point, so the crop camera needs no extra rotation: a synthetic
sample's ``crop_rotation`` is the identity.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class CameraParams:
    """Per-sample camera placement draws (B of each)."""

    distance_mm: torch.Tensor  # (B,) distance of the keypoint box centre from the camera
    fill: torch.Tensor         # (B,) longer side of the keypoints' 2D box / crop side
    shift: torch.Tensor        # (B, 2) box centre offset from the crop centre, in crop sides

    def to(self, device: torch.device | str) -> "CameraParams":
        return CameraParams(self.distance_mm.to(device), self.fill.to(device), self.shift.to(device))


def intrinsics(focal_px: torch.Tensor, size: int) -> torch.Tensor:
    """K (B, 3, 3) for focal lengths (B,) px and an S x S crop with the principal point centred."""
    k = torch.zeros(focal_px.shape[0], 3, 3, dtype=focal_px.dtype, device=focal_px.device)
    k[:, 0, 0] = focal_px
    k[:, 1, 1] = focal_px
    k[:, :2, 2] = (size - 1) / 2.0
    k[:, 2, 2] = 1.0
    return k


def project(points: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Pixel coordinates (B, J, 2) of camera-frame points (B, J, 3) under intrinsics K (B, 3, 3)."""
    uvw = points @ K.transpose(1, 2)
    return uvw[..., :2] / uvw[..., 2:3]


def place_camera(
    keypoints: torch.Tensor, params: CameraParams, size: int, iterations: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Translation and intrinsics that frame the keypoints.

    keypoints: (B, 21, 3) mm, already rotated into the camera's orientation (any origin).
    Returns translation (B, 3) mm (add to the rotated points) and K (B, 3, 3).
    """
    lo, hi = keypoints.amin(dim=1), keypoints.amax(dim=1)
    target = torch.zeros_like(lo)
    target[:, 2] = params.distance_mm
    translation = target - 0.5 * (lo + hi)
    # Perspective makes the projected box asymmetric: move the hand sideways until the box's
    # centre lies on the optical axis (a few fixed-point steps converge).
    for _ in range(iterations):
        moved = keypoints + translation[:, None]
        uv = moved[..., :2] / moved[..., 2:3]
        centre = 0.5 * (uv.amin(dim=1) + uv.amax(dim=1))
        translation[:, :2] -= centre * params.distance_mm[:, None]
    moved = keypoints + translation[:, None]
    uv = moved[..., :2] / moved[..., 2:3]
    extent = (uv.amax(dim=1) - uv.amin(dim=1)).amax(dim=1)  # (B,) normalised image units
    focal = params.fill * size / extent.clamp(min=1e-6)
    translation[:, :2] += params.shift * (size / focal)[:, None] * params.distance_mm[:, None]
    return translation, intrinsics(focal, size)
