"""Differentiable skeleton maps: where the pose-guided image decoder is told to draw the hand.

A root-relative 3D pose is framed in the crop the way training crops frame a hand (the
keypoints' 2D box centred, its longer side ``fill`` of the crop side: ``core.render.camera``'s
``place_camera``, which ``core.data.crop`` mirrors for real photos), projected, and drawn once,
at half the decoder's output size but at most 64 px (``PoseGuidedDecoder.maps``), as

- one Gaussian "limb" map per bone (20): exp(-d^2 / 2 sigma^2), d the distance to the segment;
- one joint map: the largest of the 21 joint Gaussians;
- one depth map: each limb's depth (near = +1, far = -1 across the hand), averaged with
  weights that favour near limbs where limbs overlap (which finger is in front).

Everything is vectorised over batch, bones and pixels (no Python loop per joint), so drawing
costs a few element-wise ops on (B, 20, r * r) tensors. Each decoder stage then pools the maps
to its resolution or upsamples (bilinear) their 1x1 projection to it (``PoseGuidedStage.project``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from core.hand.joints import BONES
from core.render.camera import CameraParams, place_camera

_PARENT = torch.tensor([a for a, _ in BONES])
_CHILD = torch.tensor([b for _, b in BONES])
NUM_MAPS = len(BONES) + 2  # limbs, joints, depth


@dataclass(frozen=True)
class Framing:
    """How a pose is placed in the crop: the synthetic data's mean framing (``SceneConfig``)."""

    fill: float = 0.75           # keypoint box side / crop side (training crops: 0.68-0.82, real 0.75)
    distance_mm: float = 500.0   # camera distance for the perspective (training: 280-800)
    sigma: float = 0.03          # limb/joint Gaussian width, fraction of the crop side
    min_sigma_px: float = 0.5    # at coarse resolutions the Gaussian is never narrower than this
    depth_sharpness: float = 4.0  # how strongly the nearer limb wins where limbs overlap


def frame_keypoints(relative_mm: torch.Tensor, size: int, framing: Framing = Framing()
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Place a root-relative pose in an S-pixel crop as training crops frame a hand.

    relative_mm: (B, 21, 3) camera-frame keypoints (any origin, mm).
    Returns uv (B, 21, 2) crop pixels (pixel centres at integers) and depth (B, 21) in [-1, 1]
    (+1 the nearest joint's side: ``(mid - z) / half range``). Differentiable in ``relative_mm``.
    """
    b = relative_mm.shape[0]
    params = CameraParams(
        distance_mm=relative_mm.new_full((b,), framing.distance_mm),
        fill=relative_mm.new_full((b,), framing.fill),
        shift=relative_mm.new_zeros(b, 2),
    )
    translation, K = place_camera(relative_mm, params, size)
    placed = relative_mm + translation[:, None]
    uvw = placed @ K.transpose(1, 2)
    uv = uvw[..., :2] / uvw[..., 2:3]
    z = relative_mm[..., 2]
    lo, hi = z.amin(dim=1, keepdim=True), z.amax(dim=1, keepdim=True)
    depth = (0.5 * (lo + hi) - z) / (0.5 * (hi - lo)).clamp_min(1.0)
    return uv, depth


@functools.lru_cache(maxsize=16)
def _pixel_axis(resolution: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre x (1, 1, r*r) and y (1, 1, r*r) of an r x r grid, row-major."""
    axis = torch.arange(resolution, dtype=dtype, device=device)
    return axis.repeat(resolution).view(1, 1, -1), axis.repeat_interleave(resolution).view(1, 1, -1)


@functools.lru_cache(maxsize=4)
def _bone_ends(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return _PARENT.to(device), _CHILD.to(device)


def skeleton_maps(uv: torch.Tensor, depth: torch.Tensor, size: int, resolution: int,
                  framing: Framing = Framing()) -> torch.Tensor:
    """Draw framed keypoints at one resolution.

    uv: (B, 21, 2) pixels of the S = ``size`` crop; depth: (B, 21) in [-1, 1].
    Returns (B, NUM_MAPS, r, r), r = ``resolution``: 20 limb maps, the joint map, the depth map.
    """
    scale = resolution / size
    p = (uv + 0.5) * scale - 0.5                      # pixel centres of the r x r grid
    inv_two_var = 1.0 / (2 * max(framing.sigma * resolution, framing.min_sigma_px) ** 2)
    # x and y are kept as separate (B, n, r*r) planes: reductions over a trailing axis of 2 are
    # several times slower on the CPU than two element-wise planes.
    gx, gy = _pixel_axis(resolution, uv.dtype, uv.device)
    parent, child = _bone_ends(uv.device)
    px, py = p[..., 0:1], p[..., 1:2]                  # (B, 21, 1)
    ax, ay = px[:, parent], py[:, parent]              # (B, 20, 1)
    abx, aby = px[:, child] - ax, py[:, child] - ay
    t = (((gx - ax) * abx + (gy - ay) * aby) / (abx.square() + aby.square()).clamp_min(1e-6)).clamp(0.0, 1.0)
    limbs = torch.exp(-((gx - (ax + t * abx)).square() + (gy - (ay + t * aby)).square()) * inv_two_var)  # (B, 20, r*r)
    joints = torch.exp(-((gx - px).square() + (gy - py).square()).amin(dim=1, keepdim=True) * inv_two_var)
    limb_depth = depth[:, parent, None] + t * (depth[:, child, None] - depth[:, parent, None])
    weight = limbs * torch.exp(framing.depth_sharpness * limb_depth)
    depth_map = (weight * limb_depth).sum(1, keepdim=True) / (weight.sum(1, keepdim=True) + 1e-3)
    maps = torch.cat([limbs, joints, depth_map], dim=1)
    return maps.reshape(uv.shape[0], NUM_MAPS, resolution, resolution)
