"""The pose reconstruction terms the baselines share with the dVAE.

They are the dVAE's ``label_terms`` (``core.models.objectives``) without the appearance term:
the same distances, weighted by the same ``LabelLossWeights``, so an equal training budget
compares learning schemes rather than loss functions.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from core.models.dvae import DecodedLabels, compose_pose_3d
from core.models.objectives import LabelLossWeights, LabelTargets, joint_distance, masked_mean


def pose_terms(decoded: DecodedLabels, targets: LabelTargets, rows: torch.Tensor,
               weights: LabelLossWeights) -> dict[str, torch.Tensor]:
    """Weighted pose terms averaged over ``rows`` (B,) bool (the rows with 3D labels).

    canonical_pose: mean joint distance in canonical units; pose_3d_mm: mean joint distance of
    the composed pose (ground-truth handedness and scale) in mm; viewpoint: squared error of the
    6D rotation; handedness: binary cross-entropy of the handedness logit.
    """
    pose_3d = compose_pose_3d(decoded.canonical_pose, decoded.rotation, targets.is_left, targets.scale)
    bce = F.binary_cross_entropy_with_logits(decoded.left_logit, targets.is_left, reduction="none")
    return {
        "canonical_pose": weights.canonical_pose * masked_mean(
            joint_distance(decoded.canonical_pose, targets.canonical_pose), rows),
        "pose_3d_mm": weights.pose_3d_mm * masked_mean(joint_distance(pose_3d, targets.relative), rows),
        "viewpoint": weights.viewpoint * masked_mean(
            (decoded.rotation_6d - targets.rotation_6d).square().sum(-1), rows),
        "handedness": weights.handedness * masked_mean(bce, rows),
    }



def labels_without_appearance(canonical_pose: torch.Tensor, rotation_6d: torch.Tensor,
                              left_logit: torch.Tensor) -> DecodedLabels:
    """A ``DecodedLabels`` for networks that decode no appearance (an empty (B, 0) tensor)."""
    return DecodedLabels(canonical_pose=canonical_pose, rotation_6d=rotation_6d, left_logit=left_logit,
                         appearance=canonical_pose.new_zeros(canonical_pose.shape[0], 0))
