"""What every pose estimator offers the evaluation, and the dVAE's thin adapter to it.

A ``PoseEstimator`` turns hand crops into root-relative 3D keypoints in millimetres, in the
frame of the crop's camera and the internal joint order (``core.hand.joints``). The baselines
(``DirectRegression``, ``CrossModalVAE``) satisfy it directly; the dVAE network through
``DVAEEstimator``. All three build the 3D pose the same way (the dVAE's deterministic
construction ``R(viewpoint) @ canonical pose * scale``), so they differ only in how they learn.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from core.hand.joints import WRIST
from core.hand.kinematics import MEAN_REFERENCE_MM
from core.models.dvae import DVAE, DecodedLabels


@runtime_checkable
class PoseEstimator(Protocol):
    """Anything that estimates 3D hand poses from square crops of ``image_size`` pixels."""

    @property
    def image_size(self) -> int:
        """Side of the square crops ``predict`` expects."""
        ...

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, S, S) float RGB in [0, 1] -> keypoints (B, 21, 3) mm, root-relative
        (wrist at the origin), crop-camera frame, internal joint order."""
        ...


def pose_from_labels(decoded: DecodedLabels, scale_mm: float = MEAN_REFERENCE_MM) -> torch.Tensor:
    """Decoded canonical pose + viewpoint + predicted handedness -> (B, 21, 3) mm, wrist-relative.

    The scale is the mean hand's wrist -> middle-MCP length: a single image does not tell the
    hand's size, and the evaluation protocol rescales to the ground truth's bone anyway. The
    decoded wrist is subtracted: the pose decoder does not pin it to the origin exactly.
    """
    pose = decoded.pose_3d(scale_mm)
    return pose - pose[:, WRIST: WRIST + 1]


class DVAEEstimator:
    """The dVAE's pose-estimation path as a ``PoseEstimator``: x -> mean of q(z | x) -> labels."""

    def __init__(self, model: DVAE, scale_mm: float = MEAN_REFERENCE_MM) -> None:
        self.model = model
        self.scale_mm = scale_mm

    @property
    def image_size(self) -> int:
        return self.model.config.image_size

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        device = next(self.model.parameters()).device
        z = self.model.image_posterior(images.to(device)).mu
        return pose_from_labels(self.model.decode_labels(z), self.scale_mm)
