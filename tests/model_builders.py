"""Helpers for the model tests: random but geometrically consistent HandBatches, and the tiny
pose-guided config.

Not a test module (no ``test_`` prefix); the ``one_thread`` fixture the model tests use is in
``tests/conftest.py``.
"""
from __future__ import annotations

import dataclasses

import torch

from core.data.sample import APPEARANCE_DIM, HandBatch
from core.hand.kinematics import forward_kinematics, mean_hand_shape, mirror_to_left
from core.models.config import DVAEConfig
from core.models.geometry import project


def random_rotation(batch: int, generator: torch.Generator) -> torch.Tensor:
    """(B, 3, 3) proper rotations from QR of Gaussian matrices."""
    q, r = torch.linalg.qr(torch.randn(batch, 3, 3, generator=generator))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]
    det = torch.linalg.det(q)
    q[:, :, 2] *= det[:, None]
    return q


def random_keypoints(batch: int, generator: torch.Generator, is_left: torch.Tensor) -> torch.Tensor:
    """(B, 21, 3) mm camera-frame hands: random flexion, random rotation, ~0.5 m in front."""
    angles = torch.rand(batch, 20, generator=generator) * 0.8
    joints, _ = forward_kinematics(angles, mean_hand_shape(batch))
    joints = mirror_to_left(joints, is_left)
    rotation = random_rotation(batch, generator)
    root = torch.tensor([0.0, 0.0, 500.0]) + torch.randn(batch, 3, generator=generator) * 20.0
    return joints @ rotation.transpose(1, 2) + root[:, None]


def random_batch(
    batch: int = 6,
    size: int = 32,
    seed: int = 0,
    has_3d: list[bool] | None = None,
    has_2d: list[bool] | None = None,
    has_content: list[bool] | None = None,
) -> HandBatch:
    """A HandBatch of random images whose labels agree with each other (projection with K)."""
    g = torch.Generator().manual_seed(seed)
    is_left = torch.rand(batch, generator=g) < 0.5
    keypoints = random_keypoints(batch, g, is_left)
    focal = 2.5 * size
    K = torch.tensor([[focal, 0.0, size / 2], [0.0, focal, size / 2], [0.0, 0.0, 1.0]]).repeat(batch, 1, 1)

    def flags(values: list[bool] | None) -> torch.Tensor:
        return torch.ones(batch, dtype=torch.bool) if values is None else torch.tensor(values)

    f3d, f2d, fc = flags(has_3d), flags(has_2d), flags(has_content)
    return HandBatch(
        image=torch.rand(batch, 3, size, size, generator=g),
        mask=(torch.rand(batch, 1, size, size, generator=g) > 0.7).float(),
        keypoints_3d=keypoints * f3d[:, None, None],
        keypoints_2d=project(keypoints, K) * f2d[:, None, None],
        visible=torch.rand(batch, 21, generator=g) < 0.9,
        K=K,
        crop_rotation=torch.eye(3).repeat(batch, 1, 1),
        is_left=is_left,
        content=torch.rand(batch, 3, size, size, generator=g),
        appearance=torch.rand(batch, APPEARANCE_DIM, generator=g),
        has_3d=f3d,
        has_2d=f2d,
        has_content=fc,
        index=torch.arange(batch),
    )


def pose_guided_config(compositing: bool = True) -> DVAEConfig:
    """The tiny config with the pose-guided decoder (and colour paths; compositing unless told not to)."""
    return dataclasses.replace(DVAEConfig.tiny(), colour_paths=True, decoder_pose_maps=True,
                               decoder_compositing=compositing)
