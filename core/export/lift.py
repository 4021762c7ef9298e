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
   (``core.hand.ik.fit_angles``: mean-size bones, joint limits); with them, the best few of
   random kinematic hands (``core.hand.sampling``, the synthetic data's pose distribution).
   Joint angles and rotation of every start are refined on the 2D error (Adam steps, then
   projected Levenberg-Marquardt steps to a fraction of a pixel), the angles clamped to their
   limits after each step.

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
from core.hand.refine import refine
from core.hand.sampling import sample_hands
from core.models.config import POSE_BLOCKS


@dataclass(frozen=True)
class LiftConfig:
    """Settings of ``lift_to_3d`` (see the module docstring for the stages)."""

    samples: int = 512          # prior draws searched
    starts: int = 4             # best draws refined
    latent_steps: int = 80
    latent_lr: float = 0.05
    prior_weight: float = 1e-3  # px^2 per unit of |z|^2 in the latent refinement
    kinematic_samples: int = 256  # random kinematic hands (``core.hand.sampling``) searched too,
    kinematic_starts: int = 2     # so a weak model's prior cannot leave the IK without a good start
    ik_steps: int = 150
    ik_lr: float = 0.02
    lm_steps: int = 30
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
    for name in POSE_BLOCKS:
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


def _kinematic_starts(target, weights, is_left, framing, config) -> list[PosedHand]:
    """The ``kinematic_starts`` of ``kinematic_samples`` random mean-size hands that fit best."""
    drawn = sample_hands(config.kinematic_samples, torch.Generator().manual_seed(config.seed))
    angles, viewpoint = drawn.angles.to(torch.float64), drawn.viewpoint.to(torch.float64)
    joints, _ = forward_kinematics(angles, mean_hand_shape(1).to("cpu", torch.float64))
    mirror = torch.tensor([-1.0 if is_left else 1.0, 1.0, 1.0], dtype=torch.float64)
    with torch.no_grad():
        best = torch.argsort(_error((joints * mirror) @ viewpoint.transpose(1, 2), target, weights, framing))
    return [PosedHand(angles[i].numpy(), viewpoint[i].numpy(), MEAN_REFERENCE_MM, bool(is_left))
            for i in best[: config.kinematic_starts].tolist()]


def _pose_keypoints(params: torch.Tensor, is_left: bool) -> torch.Tensor:
    """params (B, 26) = 20 angles + 6D rotation -> keypoints (B, 21, 3) mm, mean-size hand."""
    joints, _ = forward_kinematics(params[:, :20], mean_hand_shape(1).to("cpu", torch.float64))
    mirror = torch.tensor([-1.0 if is_left else 1.0, 1.0, 1.0], dtype=torch.float64)
    return (joints * mirror) @ rotation_from_6d(params[:, 20:]).transpose(1, 2)


def _residuals(params: torch.Tensor, is_left: bool, target, weights, framing) -> torch.Tensor:
    """(B, 42) weighted pixel residuals of the aligned projections."""
    aligned = _aligned(frame_keypoints(_pose_keypoints(params, is_left), framing), target, weights)
    return ((aligned - target[None]) * weights.sqrt()[None, :, None]).reshape(len(params), -1)


def _refine_ik(hands: list[PosedHand], target, weights, framing, config) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage 3: angles (B, 20) and rotations (B, 3, 3) refined on the 2D error
    (``core.hand.refine.refine``: Adam steps, then projected Levenberg-Marquardt steps)."""
    is_left = hands[0].is_left
    angles = torch.tensor(np.stack([h.angles for h in hands]), dtype=torch.float64)
    sixd = rotation_to_6d(torch.tensor(np.stack([h.viewpoint for h in hands]), dtype=torch.float64))
    params = refine(lambda p: _residuals(p, is_left, target, weights, framing), torch.cat([angles, sixd], dim=1),
                    config.ik_steps, config.ik_lr, config.lm_steps)
    return params[:, :20].clone(), rotation_from_6d(params[:, 20:])


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
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread is faster, and far faster on a loaded CPU
    try:
        with torch.inference_mode(False):
            hand, aligned = _best_hand(hand2d.is_left, model, target, weights, framing, config)
    finally:
        torch.set_num_threads(threads)
    in_file = aligned / to_canvas
    distance = np.linalg.norm(in_file - np.asarray(hand2d.keypoints, np.float64), axis=-1)
    return LiftResult(hand, in_file, distance, float(distance[found].mean()))


def _best_hand(is_left: bool, model: HandModel, target: torch.Tensor, weights: torch.Tensor,
               framing: FramingConfig, config: LiftConfig) -> tuple[PosedHand, np.ndarray]:
    """All three stages; the best hand and its aligned projection (21, 2) in canvas pixels."""
    starts = _prior_starts(model, target, weights, is_left, framing, config)
    hands = [PosedHand.from_keypoints(p.numpy(), is_left) for p in starts]
    hands += _kinematic_starts(target, weights, is_left, framing, config)
    angles, rotations = _refine_ik(hands, target, weights, framing, config)
    with torch.no_grad():
        keypoints = _pose_keypoints(torch.cat([angles, rotation_to_6d(rotations)], dim=1), is_left)
        best = int(torch.argmin(_error(keypoints, target, weights, framing)))
        aligned = _aligned(frame_keypoints(keypoints[best : best + 1], framing), target, weights)[0]
    hand = PosedHand(angles[best].numpy(), rotations[best].numpy(), MEAN_REFERENCE_MM, bool(is_left))
    return hand, aligned.numpy()
