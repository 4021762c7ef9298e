"""Baseline (a): direct regression from the image to the 3D pose.

The network is the dVAE's own pose-estimation path, trained end to end on the pose terms only:
the same ``ImageEncoder`` (its Gaussian head's mean used as a deterministic code, no sampling,
no KL), the same ``PoseDecoder`` on the code's pose block and ``ViewpointDecoder`` on its
viewpoint block, and the same output construction ``R(viewpoint) @ canonical pose * scale``.
What is missing is exactly what the dVAE adds: the latent space learnt from the labels, the
image decoder and the KL terms. Output frame: root-relative (wrist at the origin) in the crop
camera's frame, as every ``PoseEstimator``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from core import config_io
from core.baselines.estimator import pose_from_labels
from core.baselines.pose_terms import labels_without_appearance, pose_terms
from core.data.sample import HandBatch
from core.models.config import POSE, VIEWPOINT, DVAEConfig
from core.models.dvae import DecodedLabels
from core.models.image_nets import ImageEncoder
from core.models.label_nets import PoseDecoder, ViewpointDecoder
from core.models.objectives import LabelLossWeights, LabelTargets, with_total

# Written into checkpoints (``core.baselines.checkpoint``).
DIRECT_KIND = "dvae-hands/direct-regression-v1"


@dataclass(frozen=True)
class DirectRegressionConfig(config_io.DictConfig):
    """Architecture: the dVAE network config whose image encoder and pose/viewpoint decoders
    the baseline reuses (only those parts are built)."""

    network: DVAEConfig = field(default_factory=DVAEConfig)


class DirectRegression(nn.Module):
    """Image (B, 3, S, S) in [0, 1] -> canonical pose, viewpoint and handedness -> 3D pose."""

    kind = DIRECT_KIND

    def __init__(self, config: DirectRegressionConfig | None = None) -> None:
        super().__init__()
        self.config = config or DirectRegressionConfig()
        network = self.config.network
        self.layout = network.layout
        self.image_encoder = ImageEncoder(network)
        self.pose_decoder = PoseDecoder(network)
        self.viewpoint_decoder = ViewpointDecoder(network)

    @property
    def image_size(self) -> int:
        return self.config.network.image_size

    def forward(self, images: torch.Tensor) -> DecodedLabels:
        """(B, 3, S, S) -> ``DecodedLabels`` (canonical pose (B, 21, 3), 6D rotation (B, 6),
        handedness logit (B,), empty appearance)."""
        code, _ = self.image_encoder(images)  # the head's log-variance is unused here
        blocks = self.layout.split(code)
        rotation_6d, left_logit = self.viewpoint_decoder(blocks[VIEWPOINT])
        return labels_without_appearance(self.pose_decoder(blocks[POSE]), rotation_6d, left_logit)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """``PoseEstimator``: (B, 3, S, S) -> (B, 21, 3) mm, wrist-relative, crop-camera frame."""
        device = next(self.parameters()).device
        return pose_from_labels(self(images.to(device)))


@dataclass
class DirectRegressionLoss(config_io.DictConfig):
    """Weights of the direct-regression objective: the dVAE's label weights (minus appearance)."""

    labels: LabelLossWeights = field(default_factory=LabelLossWeights)


class DirectRegressionObjective:
    """Supervised pose loss on the rows with 3D labels (others contribute nothing).

    ``objective(model, batch) -> {"canonical_pose", "pose_3d_mm", "viewpoint", "handedness",
    "total"}``; ``param_groups(model, base_lr)`` trains every parameter at ``base_lr``.
    """

    def __init__(self, config: DirectRegressionLoss | None = None) -> None:
        self.config = config or DirectRegressionLoss()

    def param_groups(self, model: DirectRegression, base_lr: float) -> list[dict]:
        return [{"name": "all", "params": list(model.parameters()), "lr": base_lr, "lr_scale": 1.0}]

    def __call__(self, model: DirectRegression, batch: HandBatch,
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        targets = LabelTargets.from_batch(batch)
        return with_total(pose_terms(model(batch.image), targets, batch.has_3d.bool(), self.config.labels))
