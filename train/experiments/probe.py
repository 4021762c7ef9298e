"""Measurements beyond pose accuracy: synthesis pose fidelity and disentanglement.

Every function takes batches of the synthetic test set (``HandBatch`` with 3D labels, content
tags and hand masks) and returns plain numbers in millimetres (or degrees) for the report.

- Synthesis pose fidelity: the dVAE synthesises images from the test poses (pose and viewpoint
  through the label encoders; content from the test sample's content tag, or inferred from its
  image when it has none). A judge (the direct-regression baseline) estimates the pose of each
  synthesis; its error against the conditioning pose is compared with its error on the real
  renders of the same poses.
- Disentanglement, in the input: the renderer draws each test hand again, identical in pose,
  shape, viewpoint and framing, with another content (background, skin tone, lighting); each
  model's estimated pose moves by some mm; the reference is how far estimates of two different
  test hands lie apart.
- Disentanglement, in the dVAE's latent: swapping only the content (+ free) blocks between two
  test latents and decoding moves the judge's estimated pose by some mm; swapping only the
  viewpoint block moves the canonical pose read back from the decoded image by some mm (while
  the viewpoint turns by some degrees).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.baselines import CrossModalVAE, DirectRegression, PoseEstimator
from core.hand.kinematics import MEAN_REFERENCE_MM
from core.metrics import PALM, PoseMetrics, evaluate_pose, keypoint_errors_3d
from core.models import CONTENT, VIEWPOINT, DVAE, DecodedLabels
from core.data.sample import HandBatch
from train.loop.sample_grid import label_latent


def pose_distance_mm(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean palm-relative joint distance between two pose sets (B, 21, 3) mm, no rescaling."""
    return float(keypoint_errors_3d(a.double().cpu().numpy(), b.double().cpu().numpy(), PALM, False).mean())


def shifted(batch: HandBatch) -> torch.Tensor:
    """The partner of each row: the next row (cyclic). (B,) int64."""
    return torch.roll(torch.arange(batch.batch_size), -1)


# ----------------------------------------------------------------------------- synthesis
@torch.no_grad()
def synthesize_from_labels(dvae: DVAE, batch: HandBatch) -> torch.Tensor:
    """Images (B, 3, S, S) the dVAE draws for the batch's poses, viewpoints and contents (content
    and free blocks inferred from the image where there is no content tag: ``train.loop.sample_grid.label_latent``)."""
    device = next(dvae.parameters()).device
    batch = batch.to(device)
    return dvae.decode_image(label_latent(dvae, batch, dvae.image_posterior(batch.image).mu))


def wrist_relative(keypoints: torch.Tensor) -> np.ndarray:
    """(B, 21, 3) keypoints -> float64 array (B, 21, 3) with the wrist at the origin."""
    return (keypoints - keypoints[:, :1]).double().cpu().numpy()


def synthesis_fidelity(dvae: DVAE, judge: PoseEstimator, batches: list[HandBatch]) -> dict[str, PoseMetrics]:
    """The judge's metrics on the real renders and on the dVAE's syntheses of the same poses
    (every joint counts: a synthesis has no visibility labels)."""
    real, synth, truth = [], [], []
    for batch in batches:
        real.append(judge.predict(batch.image).double().cpu().numpy())
        synth.append(judge.predict(synthesize_from_labels(dvae, batch)).double().cpu().numpy())
        truth.append(wrist_relative(batch.keypoints_3d))
    gt = np.concatenate(truth)
    return {"renders": evaluate_pose(np.concatenate(real), gt), "syntheses": evaluate_pose(np.concatenate(synth), gt)}


# ----------------------------------------------------------------------------- disentanglement
@dataclass
class ContentSwap:
    """How far an estimator's pose moves when only the background changes (mm), next to how far
    two different test hands' estimates lie apart."""

    shift_mm: float
    reference_mm: float


def content_swap(estimators: dict[str, PoseEstimator], pairs: list[tuple[HandBatch, HandBatch]]
                 ) -> dict[str, ContentSwap]:
    """Input-space content swap for each estimator, on same-hand pairs (first, other content)."""
    out: dict[str, ContentSwap] = {}
    for name, estimator in estimators.items():
        shifts, references = [], []
        for batch, other_content in pairs:
            partner = shifted(batch)
            original = estimator.predict(batch.image)
            shifts.append(pose_distance_mm(original, estimator.predict(other_content.image)))
            references.append(pose_distance_mm(original, original[partner]))
        out[name] = ContentSwap(float(np.mean(shifts)), float(np.mean(references)))
    return out


def read_labels(judge: DVAE | DirectRegression | CrossModalVAE, images: torch.Tensor) -> DecodedLabels:
    """What a model reads from images (B, 3, S, S): canonical pose, viewpoint and handedness."""
    if isinstance(judge, DVAE):
        return judge.decode_labels(judge.image_posterior(images).mu)
    if isinstance(judge, CrossModalVAE):
        return judge.decode_pose(judge.image_posterior(images).mu)
    return judge(images)


@dataclass
class LatentSwaps:
    """Latent-space swaps of the dVAE, read back by a judge."""

    content_pose_shift_mm: float       # 3D pose moved by swapping content (+ free) blocks
    content_reference_mm: float        # 3D poses of the two decoded samples apart
    viewpoint_canonical_shift_mm: float  # canonical pose moved by swapping the viewpoint block
    viewpoint_reference_mm: float      # canonical poses of the two decoded samples apart
    viewpoint_turn_deg: float          # how far the read-back viewpoint turned with the swap


@torch.no_grad()
def latent_swaps(dvae: DVAE, judge: DVAE | DirectRegression, batches: list[HandBatch]) -> LatentSwaps:
    """Swap blocks between test latents, decode, and let ``judge`` read the images back."""
    content_blocks = [CONTENT, *dvae.layout.free_names]
    values: dict[str, list[float]] = {k: [] for k in ("cs", "cr", "vs", "vr", "vt")}
    device = next(dvae.parameters()).device
    for batch in batches:
        partner = shifted(batch).to(device)
        batch = batch.to(device)
        z = dvae.image_posterior(batch.image).mu
        z_content = dvae.swap_blocks(z, z[partner], content_blocks)
        z_view = dvae.swap_blocks(z, z[partner], [VIEWPOINT])
        base = read_labels(judge, dvae.decode_image(z))
        after_content = read_labels(judge, dvae.decode_image(z_content))
        after_view = read_labels(judge, dvae.decode_image(z_view))
        pose_base, pose_content = base.pose_3d(MEAN_REFERENCE_MM), after_content.pose_3d(MEAN_REFERENCE_MM)
        values["cs"].append(pose_distance_mm(pose_base, pose_content))
        values["cr"].append(pose_distance_mm(pose_base, pose_base[partner]))
        canonical = base.canonical_pose * MEAN_REFERENCE_MM
        values["vs"].append(pose_distance_mm(canonical, after_view.canonical_pose * MEAN_REFERENCE_MM))
        values["vr"].append(pose_distance_mm(canonical, canonical[partner]))
        values["vt"].append(rotation_angle_deg(base.rotation, after_view.rotation))
    means = {k: float(np.mean(v)) for k, v in values.items()}
    return LatentSwaps(means["cs"], means["cr"], means["vs"], means["vr"], means["vt"])


def rotation_angle_deg(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean angle (degrees) of the rotations taking ``a`` (B, 3, 3) to ``b``."""
    relative = a.transpose(1, 2) @ b
    cosine = ((relative.diagonal(dim1=1, dim2=2).sum(-1) - 1.0) / 2.0).clamp(-1.0, 1.0)
    return float(torch.rad2deg(torch.arccos(cosine)).mean())
