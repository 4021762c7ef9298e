"""Linear blend skinning of the baked points as ONE matrix multiply per batch.

Each bone j moves a rest point p to ``A_j p + t_j + c_j(p) v_j``: ``A_j`` rotates (and scales by
the hand's overall size g), ``t_j`` moves its joint, and ``c_j(p)`` (the point's position along
the bone, clamped to the bone) times ``v_j`` stretches only the bone's inside, so a longer
finger keeps round knuckles and fingertips. Blending with weights w_j is linear in the baked
features ``[w_j p, w_j, w_j c_j]`` (5 x 17 values per point), hence
``positions (B*3, N) = theta (B*3, 85) @ features (85, N)``; the camera rotation, mirroring
and translation fold into ``theta``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from core.hand.kinematics import HandShape, forward_kinematics
from core.render.bake import FOREARM_BONE, NUM_BONES, PALM_BONE, BakedHand, bone_start_joints

_PALM_ANCHORS = (0, 1, 5, 9, 13, 17)  # wrist, thumb CMC and the MCPs fit the palm's affine map
_PALM_STIFFNESS_MM2 = 2000.0  # pulls the palm fit toward a plain scaling (the fit is flat in z)


@dataclass
class SkinningFeatures:
    """Baked features on one device: see the module docstring."""

    position_features: torch.Tensor  # (5 * 17, N)
    normal_features: torch.Tensor    # (3 * 17, N)
    rest_joints: torch.Tensor        # (21, 3)
    rest_frames: torch.Tensor        # (21, 3, 3)
    rest_lengths: torch.Tensor       # (17,)
    palm_solve: torch.Tensor         # (4, 4) inverse normal matrix of the palm fit
    palm_design: torch.Tensor        # (6, 4) rest palm anchors with a ones column

    @staticmethod
    def from_baked(baked: BakedHand, device: torch.device | str) -> "SkinningFeatures":
        p = torch.from_numpy(baked.positions).double()
        n = torch.from_numpy(baked.normals).double()
        w = torch.from_numpy(baked.weights).double()
        c = torch.from_numpy(baked.along).double()
        weighted_p = (w[:, :, None] * p[:, None, :]).reshape(len(p), -1)  # (N, 17*3), bone-major
        weighted_n = (w[:, :, None] * n[:, None, :]).reshape(len(p), -1)
        position_features = torch.cat([weighted_p, w, w * c], dim=1).T.contiguous()
        joints = torch.from_numpy(baked.rest_joints).double()
        design = torch.cat([joints[list(_PALM_ANCHORS)], torch.ones(len(_PALM_ANCHORS), 1, dtype=torch.float64)], 1)
        reg = torch.diag(torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64)) * _PALM_STIFFNESS_MM2
        solve = torch.linalg.inv(design.T @ design + reg)
        f32 = dict(device=device, dtype=torch.float32)
        return SkinningFeatures(
            position_features=position_features.to(**f32),
            normal_features=weighted_n.T.contiguous().to(**f32),
            rest_joints=joints.to(**f32),
            rest_frames=torch.from_numpy(baked.rest_frames).to(**f32),
            rest_lengths=torch.from_numpy(baked.rest_lengths).to(**f32),
            palm_solve=solve.to(**f32),
            palm_design=design.to(**f32),
        )


@dataclass
class BonePose:
    """Per-hand bone motions in the hand frame (before camera and mirroring)."""

    linear: torch.Tensor       # (B, 17, 3, 3) A_j
    offset: torch.Tensor       # (B, 17, 3) t_j
    stretch: torch.Tensor      # (B, 17, 3) v_j
    rotation: torch.Tensor     # (B, 17, 3, 3) rotation for normals
    joints: torch.Tensor       # (B, 21, 3) mm, posed keypoints in the hand frame
    frames: torch.Tensor       # (B, 21, 3, 3) posed bone frames in the hand frame


def pose_bones(
    features: SkinningFeatures, angles: torch.Tensor, shape: HandShape, forearm_rotation: torch.Tensor
) -> BonePose:
    """Bone motions for joint angles (B, 20) rad, hand shapes (B) and forearm turns (B, 3, 3)."""
    batch = angles.shape[0]
    joints, frames = forward_kinematics(angles, shape)
    rest_j, rest_f = features.rest_joints, features.rest_frames
    size = joints[:, 9].norm(dim=-1) / rest_j[9].norm()  # (B,) overall scale g
    eye = torch.eye(3, dtype=angles.dtype, device=angles.device)

    starts = bone_start_joints()
    rotation = frames[:, starts] @ rest_f[starts].transpose(-1, -2)  # (B, 17, 3, 3)
    linear = size[:, None, None, None] * rotation
    offset = joints[:, starts] - (linear @ rest_j[starts][..., None]).squeeze(-1)
    lengths = shape.segment_lengths.expand(batch, -1, -1).reshape(batch, 15)
    ratio = torch.zeros(batch, NUM_BONES, dtype=angles.dtype, device=angles.device)
    ratio[:, 2:] = lengths / features.rest_lengths[2:].clamp(min=1e-6) - size[:, None]
    stretch = ratio[..., None] * frames[:, starts, :, 1]

    # Palm: a regularised affine fit from the rest knuckles to this hand's knuckles.
    target = joints[:, list(_PALM_ANCHORS)]  # (B, 6, 3)
    prior = torch.cat([size[:, None, None] * eye, torch.zeros(batch, 1, 3, dtype=angles.dtype, device=angles.device)], 1)
    reg = torch.diag(angles.new_tensor([1.0, 1.0, 1.0, 0.0])) * _PALM_STIFFNESS_MM2
    theta = features.palm_solve @ (features.palm_design.T @ target + reg @ prior)  # (B, 4, 3)
    linear[:, PALM_BONE] = theta[:, :3].transpose(1, 2)
    offset[:, PALM_BONE] = theta[:, 3]
    rotation[:, PALM_BONE] = eye

    linear[:, FOREARM_BONE] = size[:, None, None] * forearm_rotation
    offset[:, FOREARM_BONE] = 0.0
    rotation[:, FOREARM_BONE] = forearm_rotation
    stretch[:, :2] = 0.0  # palm and forearm follow their affine maps only
    return BonePose(linear, offset, stretch, rotation, joints, frames)


def skin_points(
    features: SkinningFeatures, pose: BonePose, camera_rotation: torch.Tensor, translation: torch.Tensor,
    out: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Posed points and normals in the camera frame.

    camera_rotation: (B, 3, 3) hand frame -> camera frame, mirroring included (det may be -1).
    translation: (B, 3) mm. Returns positions (3, B, N) mm and unnormalised normals (3, B, N).
    ``out``: two 1-D buffers of at least 3 B N elements to write them into (reused memory).
    """
    batch = camera_rotation.shape[0]
    c = camera_rotation[:, None]  # (B, 1, 3, 3)
    linear = c @ pose.linear  # (B, J, 3, 3)
    offset = (c @ pose.offset[..., None]).squeeze(-1) + translation[:, None]  # weights sum to 1
    stretch = (c @ pose.stretch[..., None]).squeeze(-1)
    theta = torch.cat(
        [linear.permute(0, 2, 1, 3).reshape(batch, 3, -1), offset.transpose(1, 2), stretch.transpose(1, 2)], dim=2
    )  # (B, 3, 5J)
    # Rows ordered (coordinate, hand): the products come out as (3, B, N), so packed gathers
    # over (3, B*N) need no transposing copy.
    n = features.position_features.shape[1]
    out_p = None if out is None else out[0][: 3 * batch * n].view(3 * batch, n)
    out_n = None if out is None else out[1][: 3 * batch * n].view(3 * batch, n)
    positions = torch.mm(theta.transpose(0, 1).reshape(3 * batch, -1), features.position_features, out=out_p)
    normal_theta = (c @ pose.rotation).permute(2, 0, 1, 3).reshape(3 * batch, -1)
    normals = torch.mm(normal_theta, features.normal_features, out=out_n)
    return positions.view(3, batch, n), normals.view(3, batch, n)
