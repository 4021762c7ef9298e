"""Auxiliary 2D keypoint heatmaps on the image encoder's features (training only).

hand3d (Zimmermann & Brox 2017) finds 2D keypoint heatmaps first and lifts them to 3D; here a
small head on one of the image encoder's feature maps (``DVAEConfig.keypoint_heatmap_size``)
predicts a Gaussian heatmap per keypoint, and its error (``EmbeddingConfig.heatmap_weight``)
shapes the encoder's features to localise the joints. The pose still comes from the latent: the
head's output is used by no estimate, and a model without the head has no trace of it.
"""
from __future__ import annotations

import torch
from torch import nn

from core.hand.joints import NUM_JOINTS
from core.models.blocks import group_norm


class KeypointHeatmapHead(nn.Module):
    """Feature map (B, C, r, r) -> heatmaps (B, 21, r, r): a 3x3 conv, GroupNorm, SiLU, a 1x1 conv
    (its initial weights scaled by 0.1, its bias 0, so the first predictions are near zero)."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            group_norm(channels, groups),
            nn.SiLU(),
            nn.Conv2d(channels, NUM_JOINTS, 1),
        )
        # start near an all-zero prediction (error ~ the targets' energy), gradients still flowing
        out = self.layers[-1]
        nn.init.zeros_(out.bias)
        with torch.no_grad():
            out.weight.mul_(0.1)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return self.layers(feature)


def heatmap_targets(keypoints_2d: torch.Tensor, image_size: int, heatmap_size: int, sigma: float) -> torch.Tensor:
    """Gaussian heatmaps (B, J, r, r), peak 1, of keypoints (B, J, 2) given in crop pixels (pixel
    centres at integers, ``core.render.camera``); ``sigma`` in heatmap cells. Cell i of side
    ``stride = image_size / r`` covers pixels [i * stride, (i + 1) * stride), its centre at
    ``(i + 0.5) * stride - 0.5`` px. Keypoints outside the crop give a truncated (or empty) map."""
    stride = image_size / heatmap_size
    cells = (keypoints_2d + 0.5) / stride - 0.5  # (B, J, 2) in heatmap cells
    grid = torch.arange(heatmap_size, device=keypoints_2d.device, dtype=keypoints_2d.dtype)
    dx = grid[None, None, None, :] - cells[..., 0, None, None]  # (B, J, 1, r)
    dy = grid[None, None, :, None] - cells[..., 1, None, None]  # (B, J, r, 1)
    return torch.exp(-(dx.square() + dy.square()) / (2.0 * sigma * sigma))


def heatmap_error(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image error (B,): the squared error summed over each heatmap's cells, averaged over
    the J keypoints; predicted, target (B, J, r, r). Predicting zeros costs about
    pi * sigma^2 (the target's energy)."""
    return (predicted - target).square().sum(dim=(2, 3)).mean(dim=1)
