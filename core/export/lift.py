"""Lift a 2D hand (OpenPose keypoints) to an editable 3D hand: dVAE pose prior, then IK.

A 2D skeleton leaves the depth of every joint open; the dVAE's pose prior picks a plausible
one. Three stages, all scored by the same 2D error: a candidate pose is framed exactly as an
export frames it (``core.export.maps.frame_keypoints``), then aligned to the file's keypoints by
the best scale and shift (so any canvas and framing works, and missing joints simply drop
out), and the remaining pixel distance is weighted by the joints' confidences.

1. Prior search: decode ``LiftConfig.samples`` pose + viewpoint latents drawn from the prior
   N(0, I) (content and free blocks at 0), keep the ``starts`` whose poses project closest.
2. Latent refinement: gradient steps on those latents' pose and viewpoint blocks (a small
   pull toward the prior mean keeps them plausible).
3. Inverse kinematics: each decoded pose is fitted by the kinematic hand
   (``core.hand.ik.fit_angles``: mean-size bones, joint limits), then its joint angles and
   rotation are refined on the 2D error with the angles clamped to their limits after each step.

The best start wins. Deterministic for a given model and input (seeded draws, fixed steps).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.api import HandModel
from core.export.maps import FramingConfig, PosedHand, frame_keypoints
from core.export.openpose import OpenPoseHand
from core.hand.canonical import rotation_from_6d, rotation_to_6d
from core.hand.kinematics import MEAN_REFERENCE_MM, forward_kinematics, mean_hand_shape
from core.hand.limits import clamp_angles
from core.models.config import POSE, VIEWPOINT


@dataclass(frozen=True)
class LiftConfig:
    """Settings of ``lift_to_3d`` (see the module docstring for the stages)."""

    samples: int = 512          # prior draws searched
    starts: int = 4             # best draws refined
    latent_steps: int = 80
    latent_lr: float = 0.05
    prior_weight: float = 1e-3  # px^2 per unit of |z|^2 in the latent refinement
    ik_steps: int = 300
    ik_lr: float = 0.02
    seed: int = 0


@dataclass
class LiftResult:
    """hand: the 3D hand (camera orientation, wrist at 0); keypoints_2d: (21, 2) its framed
    projection mapped into the file's canvas; error_px: (21,) distance to the file's keypoints
    there (missing joints included, for information); mean_error_px: over the found joints."""

    hand: PosedHand
    keypoints_2d: np.ndarray
    error_px: np.ndarray
    mean_error_px: float


def _aligned(projected: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """projected (B, 21, 2) moved by the weighted least-squares scale (> 0) and shift onto target (21, 2)."""
    w = (weights / weights.sum())[None, :, None]
    p_mean, q_mean = (w * projected).sum(1, keepdim=True), (w * target[None]).sum(1, keepdim=True)
    p, q = projected - p_mean, target[None] - q_mean
    scale = (w * p * q).sum((1, 2), keepdim=True) / (w * p * p).sum((1, 2), keepdim=True).clamp_min(1e-9)
    # a negative scale would turn the skeleton by 180 degrees in the image: not a match
    return scale.clamp_min(1e-3) * p + q_mean


def _error(keypoints_3d: torch.Tensor, target: torch.Tensor, weights: torch.Tensor,
           framing: FramingConfig) -> torch.Tensor:
    """Per-candidate weighted mean squared pixel error (B,) of poses (B, 21, 3)."""
    aligned = _aligned(frame_keypoints(keypoints_3d, framing), target, weights)
    return ((aligned - target[None]).square().sum(-1) * weights).sum(-1) / weights.sum()


def _prior_starts(model: HandModel, target, weights, is_left, framing, config) -> torch.Tensor:
    """Stages 1 and 2: (starts, 21, 3) mm decoded poses whose projections fit best."""
    dvae, layout = model.model, model.layout
    dtype = next(dvae.parameters()).dtype
    generator = torch.Generator().manual_seed(config.seed)
    z = torch.zeros(config.samples, layout.dim, dtype=dtype)
    for name in (POSE, VIEWPOINT):
        block = layout.slice(name)
        z[:, block] = torch.randn(config.samples, block.stop - block.start, generator=generator).to(dtype)
    left = torch.full((config.samples,), bool(is_left))

    def poses(latents: torch.Tensor) -> torch.Tensor:
        labels = dvae.decode_labels(latents.to(model.device))
        return labels.pose_3d(MEAN_REFERENCE_MM, left[: len(latents)].to(model.device)).cpu().to(torch.float64)

    with torch.no_grad():
        best = torch.argsort(_error(poses(z), target, weights, framing))[: config.starts]
    z = z[best].clone().requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=config.latent_lr)
    for _ in range(config.latent_steps):
        loss = _error(poses(z), target, weights, framing).sum() + config.prior_weight * z.square().sum()
        (grad,) = torch.autograd.grad(loss, [z])  # no gradients into the model's weights
        z.grad = grad
        optimiser.step()
    with torch.no_grad():
        return poses(z.detach())


def _refine_ik(hands: list[PosedHand], target, weights, framing, config) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage 3: angles (B, 20) and rotations (B, 3, 3) refined on the 2D error."""
    shape = mean_hand_shape(1).to("cpu", torch.float64)
    angles = torch.tensor(np.stack([h.angles for h in hands]), dtype=torch.float64).requires_grad_(True)
    sixd = rotation_to_6d(torch.tensor(np.stack([h.viewpoint for h in hands]), dtype=torch.float64))
    sixd = sixd.clone().requires_grad_(True)
    mirror = torch.tensor([-1.0 if hands[0].is_left else 1.0, 1.0, 1.0], dtype=torch.float64)
    optimiser = torch.optim.Adam([angles, sixd], lr=config.ik_lr)
    for _ in range(config.ik_steps):
        joints, _ = forward_kinematics(angles, shape)
        keypoints = (joints * mirror) @ rotation_from_6d(sixd).transpose(1, 2)
        loss = _error(keypoints, target, weights, framing).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            angles.copy_(clamp_angles(angles))
    return angles.detach(), rotation_from_6d(sixd.detach())


def lift_to_3d(hand2d: OpenPoseHand, model: HandModel, framing: FramingConfig = FramingConfig(),
               config: LiftConfig = LiftConfig()) -> LiftResult:
    """The 3D hand (mean size, joint limits kept) whose projection fits ``hand2d``'s keypoints.

    ``framing`` is the framing the candidates are projected with; an exported file is matched to
    within a pixel when it is the framing of the export (same ``distance_mm``).
    """
    found = np.asarray(hand2d.confidence, np.float64) > 0
    if found.sum() < 4:
        raise ValueError(f"lift_to_3d: {found.sum()} joints found; at least 4 are needed")
    # Work in a canvas of the framing's size: file pixels -> canvas pixels by one scale.
    to_canvas = framing.size / max(hand2d.canvas_wh)
    target = torch.tensor(np.asarray(hand2d.keypoints, np.float64) * to_canvas)
    weights = torch.tensor(np.where(found, np.clip(hand2d.confidence, 0.05, 1.0), 0.0))
    with torch.inference_mode(False):
        starts = _prior_starts(model, target, weights, hand2d.is_left, framing, config)
        hands = [PosedHand.from_keypoints(p.numpy(), hand2d.is_left) for p in starts]
        angles, rotations = _refine_ik(hands, target, weights, framing, config)
        joints, _ = forward_kinematics(angles, mean_hand_shape(1).to("cpu", torch.float64))
        mirror = torch.tensor([-1.0 if hand2d.is_left else 1.0, 1.0, 1.0], dtype=torch.float64)
        keypoints = (joints * mirror) @ rotations.transpose(1, 2)
        with torch.no_grad():
            errors = _error(keypoints, target, weights, framing)
            best = int(torch.argmin(errors))
            aligned = _aligned(frame_keypoints(keypoints[best : best + 1], framing), target, weights)[0]
    in_file = aligned.numpy() / to_canvas
    distance = np.linalg.norm(in_file - np.asarray(hand2d.keypoints, np.float64), axis=-1)
    hand = PosedHand(angles[best].numpy(), rotations[best].numpy(), MEAN_REFERENCE_MM, bool(hand2d.is_left))
    return LiftResult(hand, in_file, distance, float(distance[found].mean()))

