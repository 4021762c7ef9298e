"""Label encoders q(z_i | y_i) and decoders p(y_i | z_i) for the labelled factors.

- canonical pose: (B, 21, 3) scale-normalised canonical pose <-> z_pose
- viewpoint: 6D rotation (B, 6) + handedness (B,) <-> z_viewpoint; the decoder returns the 6D
  rotation and a handedness logit (positive = left hand)
- content: z_content -> appearance (B, A), the part of the content tag worth reconstructing
  (the background itself is reconstructed through the image decoder)
"""
from __future__ import annotations

import torch
from torch import nn

from core.hand.canonical import to_canonical
from core.hand.joints import NUM_JOINTS
from core.hand.kinematics import forward_kinematics, mean_hand_shape
from core.models.blocks import GaussianHead, mlp
from core.models.config import CONTENT, POSE, VIEWPOINT, DVAEConfig


def rest_pose() -> torch.Tensor:
    """(21, 3) canonical pose of the mean hand with every joint angle 0 (flat, fingers together)."""
    joints, _ = forward_kinematics(torch.zeros(1, 20), mean_hand_shape(1))
    return to_canonical(joints, torch.zeros(1, dtype=torch.bool)).pose[0]


class PoseEncoder(nn.Module):
    """(B, 21, 3) canonical pose -> mu, logvar (B, d_pose).

    The input is centred on the rest pose and divided by ``config.pose_unit`` (the rest pose is a
    buffer, so a checkpoint keeps the one it was trained with)."""

    def __init__(self, config: DVAEConfig) -> None:
        super().__init__()
        self.register_buffer("rest_pose", rest_pose())
        self.pose_unit = config.pose_unit
        self.body = mlp(NUM_JOINTS * 3, config.mlp_hidden, config.mlp_hidden, config.mlp_layers - 1)
        self.act = nn.SiLU()
        self.head = GaussianHead(config.mlp_hidden, config.layout.size(POSE), config.logvar_min, config.logvar_max)

    def forward(self, canonical_pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (canonical_pose - self.rest_pose) / self.pose_unit
        return self.head(self.act(self.body(x.flatten(1))))


class PoseDecoder(nn.Module):
    """(B, d_pose) -> canonical pose (B, 21, 3); the wrist is the origin by construction.

    Outputs offsets from the rest pose in units of ``config.pose_unit`` (see ``PoseEncoder``)."""

    def __init__(self, config: DVAEConfig) -> None:
        super().__init__()
        self.register_buffer("rest_pose", rest_pose())
        self.pose_unit = config.pose_unit
        self.net = mlp(config.layout.size(POSE), (NUM_JOINTS - 1) * 3, config.mlp_hidden, config.mlp_layers)

    def forward(self, z_pose: torch.Tensor) -> torch.Tensor:
        offsets = self.net(z_pose).view(-1, NUM_JOINTS - 1, 3) * self.pose_unit
        joints = self.rest_pose[1:] + offsets
        return torch.cat([joints.new_zeros(joints.shape[0], 1, 3), joints], dim=1)  # WRIST = 0


class ViewpointEncoder(nn.Module):
    """rotation 6D (B, 6) and is_left (B,) -> mu, logvar (B, d_viewpoint)."""

    def __init__(self, config: DVAEConfig) -> None:
        super().__init__()
        self.body = mlp(7, config.mlp_hidden, config.mlp_hidden, config.mlp_layers - 1)
        self.act = nn.SiLU()
        self.head = GaussianHead(config.mlp_hidden, config.layout.size(VIEWPOINT), config.logvar_min,
                                 config.logvar_max)

    def forward(self, rotation_6d: torch.Tensor, is_left: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        handedness = is_left.to(rotation_6d.dtype).unsqueeze(-1) * 2.0 - 1.0
        return self.head(self.act(self.body(torch.cat([rotation_6d, handedness], dim=-1))))


class ViewpointDecoder(nn.Module):
    """(B, d_viewpoint) -> rotation 6D (B, 6), handedness logit (B,) (positive = left)."""

    def __init__(self, config: DVAEConfig) -> None:
        super().__init__()
        self.net = mlp(config.layout.size(VIEWPOINT), 7, config.mlp_hidden, config.mlp_layers)

    def forward(self, z_viewpoint: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(z_viewpoint)
        return out[:, :6], out[:, 6]


class AppearanceDecoder(nn.Module):
    """(B, d_content) -> appearance parameters (B, A)."""

    def __init__(self, config: DVAEConfig) -> None:
        super().__init__()
        self.net = mlp(config.layout.size(CONTENT), config.appearance_dim, config.mlp_hidden // 2, 1)

    def forward(self, z_content: torch.Tensor) -> torch.Tensor:
        return self.net(z_content)
