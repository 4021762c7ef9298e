"""Where a pose estimator's 3D error comes from: viewpoint, canonical pose or handedness.

All three models of section 1 build their 3D pose the same way, ``R(viewpoint) @ canonical
pose`` with a handedness bit. Substituting the ground truth for one factor at a time shows which
factor carries the error; for the dVAE, the label round trip (true labels -> the label encoders'
means -> the label decoders, no image) is the floor its image encoder can reach in the
embedding step. Errors are mean palm-relative joint distances in mm at the true hand scale.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch

from core.baselines import CrossModalVAE, DirectRegression
from core.data.sample import HandBatch
from core.hand.canonical import rotation_from_6d
from core.models import DVAE, DecodedLabels
from core.models.dvae import compose_pose_3d
from core.models.objectives import LabelTargets
from train.experiments.probe import pose_distance_mm, read_labels, rotation_angle_deg

PoseModel = DVAE | DirectRegression | CrossModalVAE


@dataclass
class ErrorBreakdown:
    """One model's error with each factor predicted or replaced by the truth (mm, degrees)."""

    estimated_mm: float            # everything as estimated
    true_side_mm: float            # the true side (left/right), the rest estimated
    true_viewpoint_mm: float       # estimated canonical pose; true viewpoint and handedness
    true_canonical_mm: float       # true canonical pose; estimated viewpoint and handedness
    viewpoint_error_deg: float     # mean angle between estimated and true viewpoint
    handedness_correct: float      # share of hands whose side is right
    label_round_trip_mm: float | None = None  # dVAE only: true labels through the latent


def _label_round_trip(dvae: DVAE, targets: LabelTargets, batch: HandBatch) -> DecodedLabels:
    z = dvae.latent_from_labels(targets.canonical_pose, targets.rotation_6d, batch.is_left.bool())
    return dvae.decode_labels(z)


@torch.no_grad()
def error_breakdown(model: PoseModel, batches: Iterable[HandBatch]) -> ErrorBreakdown:
    """The breakdown over test ``batches`` (3D labels needed; read once, in order), averaged per sample."""
    device = next(model.parameters()).device
    sums = {"est": 0.0, "side": 0.0, "view": 0.0, "canon": 0.0, "deg": 0.0, "hand": 0.0, "trip": 0.0}
    count = 0
    for batch in batches:
        batch = batch.to(device)
        n = batch.batch_size
        targets = LabelTargets.from_batch(batch)
        truth, scale, true_left = targets.relative, targets.scale, targets.is_left
        true_rotation = rotation_from_6d(targets.rotation_6d)
        labels = read_labels(model, batch.image)
        sums["est"] += n * pose_distance_mm(labels.pose_3d(scale), truth)
        sums["side"] += n * pose_distance_mm(labels.pose_3d(scale, true_left), truth)
        sums["view"] += n * pose_distance_mm(compose_pose_3d(labels.canonical_pose, true_rotation, true_left, scale), truth)
        sums["canon"] += n * pose_distance_mm(compose_pose_3d(targets.canonical_pose, labels.rotation, labels.is_left,
                                                              scale), truth)
        sums["deg"] += n * rotation_angle_deg(labels.rotation, true_rotation)
        sums["hand"] += float((labels.is_left == batch.is_left.bool()).float().sum())
        if isinstance(model, DVAE):
            sums["trip"] += n * pose_distance_mm(_label_round_trip(model, targets, batch).pose_3d(scale, true_left), truth)
        count += n
    mean = {k: v / max(count, 1) for k, v in sums.items()}
    return ErrorBreakdown(mean["est"], mean["side"], mean["view"], mean["canon"], mean["deg"], mean["hand"],
                          mean["trip"] if isinstance(model, DVAE) else None)
