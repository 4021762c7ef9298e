"""The one sample structure every dataset returns, and its batched form.

Every dataset (synthetic, cached, RHD, STB, FreiHAND, unlabelled photos) yields ``HandSample``
with all fields present; what a source does not label is zero-filled and flagged ``has_*``
False, so one batch can mix labelled, weakly labelled (2D only) and unlabelled images.

Coordinates: ``keypoints_3d`` is in millimetres in the frame of the crop's virtual camera
(a camera turned to look through the crop centre; ``crop_rotation`` takes original-camera
coordinates to it: ``X_crop = crop_rotation @ X_orig``). ``keypoints_2d`` are pixels of the
crop and equal the projection of ``keypoints_3d`` with ``K``. Joints are in the internal order
of ``core.hand.joints``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

APPEARANCE_DIM = 8  # skin rgb (3), light direction (3), ambient, key intensity


@dataclass
class HandSample:
    """One hand crop and its labels (unbatched shapes; ``HandBatch`` adds a leading B)."""

    image: torch.Tensor          # (3, H, W) float32 RGB in [0, 1]
    mask: torch.Tensor           # (1, H, W) float32 hand coverage in [0, 1]; zeros if unknown
    keypoints_3d: torch.Tensor   # (21, 3) mm, crop-camera frame
    keypoints_2d: torch.Tensor   # (21, 2) px in the crop
    visible: torch.Tensor        # (21,) bool: joint visible (not self-occluded, inside the crop)
    K: torch.Tensor              # (3, 3) intrinsics of the crop camera
    crop_rotation: torch.Tensor  # (3, 3) original camera -> crop camera
    is_left: torch.Tensor        # () bool
    content: torch.Tensor        # (3, H, W) the content tag: background without the hand
    appearance: torch.Tensor     # (APPEARANCE_DIM,) skin tone and lighting parameters
    has_3d: torch.Tensor         # () bool: keypoints_3d is a label
    has_2d: torch.Tensor         # () bool: keypoints_2d is a label
    has_content: torch.Tensor    # () bool: content / appearance are labels
    index: torch.Tensor          # () int64: position of the sample in its dataset


@dataclass
class HandBatch:
    """``HandSample`` fields stacked along a new leading batch dimension B."""

    image: torch.Tensor          # (B, 3, H, W)
    mask: torch.Tensor           # (B, 1, H, W)
    keypoints_3d: torch.Tensor   # (B, 21, 3)
    keypoints_2d: torch.Tensor   # (B, 21, 2)
    visible: torch.Tensor        # (B, 21)
    K: torch.Tensor              # (B, 3, 3)
    crop_rotation: torch.Tensor  # (B, 3, 3)
    is_left: torch.Tensor        # (B,)
    content: torch.Tensor        # (B, 3, H, W)
    appearance: torch.Tensor     # (B, APPEARANCE_DIM)
    has_3d: torch.Tensor         # (B,)
    has_2d: torch.Tensor         # (B,)
    has_content: torch.Tensor    # (B,)
    index: torch.Tensor          # (B,)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "HandBatch":
        return HandBatch(**{f.name: getattr(self, f.name).to(device, non_blocking=non_blocking) for f in fields(self)})

    @property
    def batch_size(self) -> int:
        return self.image.shape[0]


def collate_samples(samples: list[HandSample]) -> HandBatch:
    """Stack samples into a batch; use as ``DataLoader(collate_fn=collate_samples)``."""
    return HandBatch(**{f.name: torch.stack([getattr(s, f.name) for s in samples]) for f in fields(HandSample)})
