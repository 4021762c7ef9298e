"""Fit the dVAE's pose prior and the kinematic hand to 21 2D hand landmarks (a photo's 3D pose).

2D landmarks (MediaPipe Hands' on a photo, ``core.finder.mediapipe_hands``) fix where every joint
lies in the picture but leave its depth open; the dVAE's pose prior and the kinematic hand
(bone lengths, joint limits) choose a plausible one. Every candidate 3D pose is scored by the
same 2D error: it is projected by a pinhole camera ``distance_mm`` from its centroid, moved onto
the landmarks by the weighted least-squares scale and shift (so the landmarks may be in any
pixels), and the remaining distances are weighted by the landmarks' confidences (0 drops a
joint). The landmarks are first scaled so that their longer extent is ``CANVAS_EXTENT`` px, so
the settings below hold for any photo size.

1. Latent search: pose and viewpoint latents from the prior N(0, I) and, given the crop, from the
   image encoder's posterior q(z | x) (its mean among them) are decoded by the label networks;
   the ``starts`` whose poses project closest are kept.
2. Latent refinement: Adam steps on those latents' pose and viewpoint blocks, under the prior
   (a pull toward 0) or, with ``posterior_prior``, under q(z | x) (a pull toward its mean, in
   units of its spread).
3. Kinematic refinement: each start becomes a mean-size kinematic hand (``core.hand.ik``), with
   the best of ``kinematic_samples`` random kinematic hands; their joint angles (clamped to
   their limits) and rotations take Adam steps, then Levenberg-Marquardt steps on the 2D error.

The best start wins. Its confidence per joint combines its 2D residual and the spread of that
joint over the starts that fit nearly as well (the depths the landmarks leave open). Deterministic
for a given model and input (seeded draws, fixed steps). ``docs/results.md`` ("3D from a photo")
has the measurements behind the defaults.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from core.hand.canonical import rotation_from_6d, rotation_to_6d
from core.hand.ik import fit_angles
from core.hand.joints import NUM_JOINTS, WRIST
from core.hand.kinematics import MEAN_REFERENCE_MM, forward_kinematics, mean_hand_shape
from core.hand.refine import refine
from core.hand.sampling import sample_hands
from core.models.config import POSE_BLOCKS
from core.models.dvae import DVAE

CANVAS_EXTENT = 384.0  # px: the landmarks' longer extent while fitting (a 512 px canvas at 3/4)
RESIDUAL_SCALE = 0.1  # a joint's residual / the landmarks' extent at which its confidence is 1/e
SPREAD_SCALE_MM = 20.0  # a joint's spread (near-equal fits; the encoder's posterior samples) at which its confidence is 1/e
NEAR_EQUAL_PX = 4.0     # fits whose mean residual is within this (canvas px) of the best count as near-equal


@dataclass(frozen=True)
class LandmarkFitConfig:
    """Settings of ``fit_landmarks`` (stages in the module docstring)."""

    prior_samples: int = 256       # latents drawn from N(0, I) and searched
    posterior_samples: int = 32    # latents drawn from q(z | x) (its mean included); 0 or no crop: none
    posterior_prior: bool = False  # refine under q(z | x) instead of N(0, I)
    starts: int = 4                # best latents refined
    latent_steps: int = 20
    latent_lr: float = 0.05
    prior_weight: float = 1e-3     # canvas px^2 per unit of squared latent distance
    kinematic_samples: int = 128
    kinematic_starts: int = 2
    ik_steps: int = 30
    ik_lr: float = 0.03
    lm_steps: int = 12
    distance_mm: float = 500.0     # camera to the hand's centroid
    seed: int = 0


@dataclass
class LandmarkFit:
    """The fitted hand.

    keypoints_3d: (21, 3) mm, mean-size hand, wrist at 0, the camera's orientation (OpenCV axes).
    keypoints_2d: (21, 2) its projection aligned to the landmarks, in the landmarks' pixels.
    residual_px: (21,) distance of each projected joint to its landmark, landmarks' pixels.
    spread_mm: (21,) root of each joint's summed per-axis variance over the near-equal fits.
    confidence: (21,) in (0, 1]: exp(-residual / (``RESIDUAL_SCALE`` x extent)) x
        exp(-spread / ``SPREAD_SCALE_MM``); 0 for a joint with no landmark.
    angles: (20,) rad and rotation (3, 3): the kinematic hand (``core.export.maps.PosedHand``).
    is_left: the side fitted. starts_near: how many fits were near-equal to the best.
    """

    keypoints_3d: np.ndarray
    keypoints_2d: np.ndarray
    residual_px: np.ndarray
    spread_mm: np.ndarray
    confidence: np.ndarray
    angles: np.ndarray
    rotation: np.ndarray
    is_left: bool
    starts_near: int


def project(keypoints: torch.Tensor, distance_mm: float) -> torch.Tensor:
    """Pinhole projection (B, 21, 2), unit focal length, of poses (B, 21, 3) mm placed with their
    centroid ``distance_mm`` in front of the camera (orientation kept)."""
    placed = keypoints - keypoints.mean(1, keepdim=True)
    depth = (placed[..., 2:3] + distance_mm).clamp_min(0.2 * distance_mm)
    return placed[..., :2] / depth


def align(projected: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """projected (B, 21, 2) moved by the weighted least-squares scale (> 0) and shift onto target (21, 2)."""
    w = (weights / weights.sum())[None, :, None]
    p_mean, q_mean = (w * projected).sum(1, keepdim=True), (w * target[None]).sum(1, keepdim=True)
    p, q = projected - p_mean, target[None] - q_mean
    scale = (w * p * q).sum((1, 2), keepdim=True) / (w * p * p).sum((1, 2), keepdim=True).clamp_min(1e-12)
    return scale.clamp_min(1e-6) * p + q_mean  # a negative scale turns the skeleton by 180 degrees: no match


class _Problem:
    """The landmarks (canvas px), their weights and the side: scores poses."""

    def __init__(self, target: torch.Tensor, weights: torch.Tensor, is_left: bool, config: LandmarkFitConfig) -> None:
        self.target, self.weights, self.is_left, self.config = target, weights, is_left, config
        self.shape = mean_hand_shape(1).to("cpu", torch.float64)
        self.mirror = torch.tensor([-1.0 if is_left else 1.0, 1.0, 1.0], dtype=torch.float64)

    def aligned(self, keypoints: torch.Tensor) -> torch.Tensor:
        return align(project(keypoints, self.config.distance_mm), self.target, self.weights)

    def error(self, keypoints: torch.Tensor) -> torch.Tensor:
        """(B,) weighted mean squared canvas-px error of poses (B, 21, 3)."""
        d = (self.aligned(keypoints) - self.target[None]).square().sum(-1)
        return (d * self.weights).sum(-1) / self.weights.sum()

    def kinematic(self, params: torch.Tensor) -> torch.Tensor:
        """params (B, 26) = 20 angles + 6D rotation -> keypoints (B, 21, 3) mm."""
        joints, _ = forward_kinematics(params[:, :20], self.shape)
        return (joints * self.mirror) @ rotation_from_6d(params[:, 20:]).transpose(1, 2)

    def residuals(self, params: torch.Tensor) -> torch.Tensor:
        """(B, 42) weighted residuals of the kinematic hands ``params`` (B, 26)."""
        diff = self.aligned(self.kinematic(params)) - self.target[None]
        return (diff * self.weights.sqrt()[None, :, None]).reshape(len(params), -1)


def _latent_starts(dvae: DVAE, problem: _Problem, posterior: tuple[torch.Tensor, torch.Tensor] | None,
                   config: LandmarkFitConfig) -> torch.Tensor:
    """Stages 1 and 2: (starts, 21, 3) mm decoded poses that fit best, float64."""
    layout = dvae.config.layout
    dtype = next(dvae.parameters()).dtype
    device = next(dvae.parameters()).device
    generator = torch.Generator().manual_seed(config.seed)
    dims = torch.zeros(layout.dim, dtype=torch.bool)
    for name in POSE_BLOCKS:
        dims[layout.slice(name)] = True
    drawn = torch.zeros(config.prior_samples, layout.dim, dtype=torch.float64)
    drawn[:, dims] = torch.randn(config.prior_samples, int(dims.sum()), generator=generator, dtype=torch.float64)
    centre = torch.zeros(layout.dim, dtype=torch.float64)
    spread = torch.ones(layout.dim, dtype=torch.float64)
    if posterior is not None and config.posterior_samples > 0:
        mu, logvar = (torch.as_tensor(t).detach().to("cpu", torch.float64).reshape(-1) for t in posterior)
        sigma = torch.exp(0.5 * logvar)
        eps = torch.randn(config.posterior_samples, layout.dim, generator=generator, dtype=torch.float64)
        eps[0] = 0.0  # the posterior mean itself
        near = mu + eps * sigma
        near[:, ~dims] = 0.0
        drawn = torch.cat([near, drawn])
        if config.posterior_prior:
            centre, spread = mu * dims, torch.where(dims, sigma, torch.ones_like(sigma))
    left = torch.full((len(drawn),), problem.is_left, device=device)

    def poses(z: torch.Tensor) -> torch.Tensor:
        labels = dvae.decode_labels(z.to(device, dtype))
        return labels.pose_3d(MEAN_REFERENCE_MM, left[: len(z)]).to("cpu", torch.float64)

    with torch.no_grad():
        best = torch.argsort(problem.error(poses(drawn)))[: config.starts]
    z = drawn[best].clone().requires_grad_(True)
    if config.latent_steps:
        optimiser = torch.optim.Adam([z], lr=config.latent_lr)
        for _ in range(config.latent_steps):
            penalty = ((z - centre) / spread).square()[:, dims].sum()
            loss = problem.error(poses(z)).sum() + config.prior_weight * penalty
            (grad,) = torch.autograd.grad(loss, [z])  # no gradients into the model's weights
            z.grad = grad
            optimiser.step()
    with torch.no_grad():
        return poses(z.detach())


def _kinematic_params(problem: _Problem, starts: torch.Tensor, config: LandmarkFitConfig) -> torch.Tensor:
    """(B, 26) angles + 6D rotations: the decoded poses ``starts`` (N, 21, 3) fitted by IK, and the
    best ``kinematic_starts`` of ``kinematic_samples`` random kinematic hands."""
    parts = []
    if len(starts):
        fit = fit_angles(starts, problem.shape, torch.full((len(starts),), problem.is_left))
        parts.append(torch.cat([fit.angles, rotation_to_6d(fit.rotation)], dim=1))
    if config.kinematic_samples and config.kinematic_starts:
        params = _kinematic_draws(config.kinematic_samples, config.seed)
        with torch.no_grad():
            best = torch.argsort(problem.error(problem.kinematic(params)))[: config.kinematic_starts]
        parts.append(params[best])
    return torch.cat(parts).to(torch.float64)


@functools.lru_cache(maxsize=4)
def _kinematic_draws(count: int, seed: int) -> torch.Tensor:
    """(count, 26) angles + 6D rotations of seeded random kinematic hands (drawing them solves
    gestures by IK: kept, as the same draws serve every fit)."""
    drawn = sample_hands(count, torch.Generator().manual_seed(seed))
    return torch.cat([drawn.angles.to(torch.float64), rotation_to_6d(drawn.viewpoint.to(torch.float64))], dim=1)


def _refine(problem: _Problem, params: torch.Tensor, config: LandmarkFitConfig) -> torch.Tensor:
    """Stage 3: ``core.hand.refine.refine`` on the problem's residuals; returns the refined (B, 26)."""
    return refine(problem.residuals, params, config.ik_steps, config.ik_lr, config.lm_steps)


def fit_landmarks(dvae: DVAE, landmarks: np.ndarray, is_left: bool, weights: np.ndarray | None = None,
                  posterior: tuple[torch.Tensor, torch.Tensor] | None = None,
                  config: LandmarkFitConfig = LandmarkFitConfig()) -> LandmarkFit:
    """The 3D hand whose projection fits 2D ``landmarks`` (21, 2) px (internal = MediaPipe order).

    The dVAE's label networks decode the candidates of the latent search (prior draws, and draws
    of the image encoder's posterior ``posterior`` = (mu (D,), logvar (D,)) of the hand's crop
    when given); the kinematic hand then fits them to the landmarks (module docstring).
    ``weights`` (21,) in [0, 1]: each landmark's confidence (0: missing; default all 1); at least
    4 joints are needed (``ValueError``). Runs on one intra-op thread (small tensors).
    """
    points = np.asarray(landmarks, np.float64).reshape(NUM_JOINTS, 2)
    w = np.ones(NUM_JOINTS) if weights is None else np.clip(np.asarray(weights, np.float64).reshape(NUM_JOINTS), 0, 1)
    found = (w > 0) & np.isfinite(points).all(-1)
    if found.sum() < 4:
        raise ValueError(f"fit_landmarks: {int(found.sum())} landmarks given; at least 4 are needed")
    w = np.where(found, np.maximum(w, 0.05), 0.0)
    points = np.where(found[:, None], points, 0.0)
    centre = points[found].mean(0)
    extent = max(float((points[found].max(0) - points[found].min(0)).max()), 1e-6)
    to_canvas = CANVAS_EXTENT / extent
    problem = _Problem(torch.tensor((points - centre) * to_canvas), torch.tensor(w), bool(is_left), config)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread is faster, and far faster on a loaded CPU
    try:
        with torch.inference_mode(False):
            starts = _latent_starts(dvae, problem, posterior, config)
            params = _refine(problem, _kinematic_params(problem, starts, config), config)
            with torch.no_grad():
                keypoints = problem.kinematic(params)
                errors = problem.error(keypoints)
                aligned = problem.aligned(keypoints)
    finally:
        torch.set_num_threads(threads)
    best = int(torch.argmin(errors))
    rooted = keypoints - keypoints[:, WRIST: WRIST + 1]
    near = errors <= (errors[best].sqrt() + NEAR_EQUAL_PX).square()
    spread = rooted[near].var(0, unbiased=False).sum(-1).sqrt() if int(near.sum()) > 1 else torch.zeros(NUM_JOINTS)
    in_pixels = aligned[best].numpy() / to_canvas + centre
    residual = np.linalg.norm(in_pixels - points, axis=-1)
    confidence = np.exp(-residual / (RESIDUAL_SCALE * extent)) * np.exp(-spread.numpy() / SPREAD_SCALE_MM)
    return LandmarkFit(rooted[best].numpy(), in_pixels, np.where(found, residual, np.nan), spread.numpy(),
                       np.where(found, confidence, 0.0), params[best, :20].numpy(),
                       rotation_from_6d(params[best: best + 1, 20:])[0].numpy(), bool(is_left), int(near.sum()))
