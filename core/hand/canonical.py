"""The canonical frame of a hand pose (``y_p``) and its viewpoint (``y_v``), and 6D rotations.

After hand3d's ``canonical_trafo.py`` (Zimmermann & Brox 2017, used by Yang & Yao 2019), for keypoints ``X``
(B, 21, 3) in mm in a camera frame:

1. root: the **wrist** keypoint (joint 0) is moved to the origin;
2. rotation ``R`` (proper, det +1): the middle MCP goes onto +y, then a turn about y puts the
   pinky MCP in the z = 0 plane, on the -x side for a right hand (+x for a left hand);
3. mirror: left hands are mirrored (x -> -x) *after* the rotation, so every canonical pose is a
   right hand, and ``is_left`` is kept;
4. scale: divided by the **wrist -> middle MCP** length (the reference bone; the evaluation
   protocol's own MCP->PIP normalisation belongs to the metrics).

The canonical frame then coincides with the hand frame of ``core.hand.kinematics`` (x toward the
thumb, y toward the fingers, z out of the palm): a forward-kinematics hand is already canonical
up to scale and the pinky's small z. ``viewpoint = R^T`` takes the hand frame to the camera frame
for both hands, the rotation that ``core.hand.sampling.sample_viewpoints`` draws:

    X = viewpoint @ mirror_if_left(pose * scale) + root

Everything is computed in float64 and returned in the input's dtype.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from core.hand.joints import MIDDLE_MCP, NUM_JOINTS, PINKY_MCP, WRIST

_EPS = 1e-12


@dataclass
class CanonicalPose:
    """A hand pose split into canonical pose, viewpoint, scale and root.

    pose: (B, 21, 3) scale-normalised right-hand pose in the canonical frame (wrist at 0,
        middle MCP at (0, 1, 0)).
    viewpoint: (B, 3, 3) rotation taking the canonical (hand) frame to the camera frame.
    scale: (B,) mm, wrist -> middle MCP length.
    root: (B, 3) mm, wrist position in the camera frame.
    is_left: (B,) bool, the pose was mirrored from a left hand.
    """

    pose: torch.Tensor
    viewpoint: torch.Tensor
    scale: torch.Tensor
    root: torch.Tensor
    is_left: torch.Tensor

    def keypoints(self) -> torch.Tensor:
        """The camera-frame keypoints (B, 21, 3) mm this decomposition came from."""
        return from_canonical(self.pose, self.viewpoint, self.scale, self.root, self.is_left)


def _check_keypoints(keypoints: torch.Tensor, name: str) -> None:
    if keypoints.dim() != 3 or keypoints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"{name}: expected (B, {NUM_JOINTS}, 3) keypoints, got shape {tuple(keypoints.shape)}")


def _mirror_sign(is_left: torch.Tensor, batch: int, like: torch.Tensor) -> torch.Tensor:
    """(B, 1, 3) factors that negate x for left hands."""
    is_left = torch.as_tensor(is_left, device=like.device).reshape(-1).expand(batch)
    factor = torch.ones(batch, 1, 3, dtype=like.dtype, device=like.device)
    factor[:, 0, 0] = 1.0 - 2.0 * is_left.to(like.dtype)
    return factor


def canonical_rotation(centred: torch.Tensor, is_left: torch.Tensor) -> torch.Tensor:
    """Rotation ``R`` (B, 3, 3) of step 2 for wrist-centred keypoints (B, 21, 3).

    Rows of ``R`` are the canonical axes expressed in the input frame.
    """
    y = centred[:, MIDDLE_MCP] / centred[:, MIDDLE_MCP].norm(dim=-1, keepdim=True).clamp_min(_EPS)
    pinky = centred[:, PINKY_MCP]
    across = pinky - (pinky * y).sum(dim=-1, keepdim=True) * y
    across = across / across.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    # The pinky lies toward -x of a right hand and toward +x of a (not yet mirrored) left hand.
    side = (2.0 * is_left.to(centred.dtype) - 1.0).reshape(-1, 1)
    x = side * across
    z = torch.linalg.cross(x, y, dim=-1)
    return torch.stack([x, y, z], dim=-2)


def to_canonical(keypoints: torch.Tensor, is_left: torch.Tensor) -> CanonicalPose:
    """Split camera-frame keypoints into canonical pose, viewpoint, scale and root.

    Args:
        keypoints: (B, 21, 3) mm, internal joint order, any frame (usually the camera's).
        is_left: (B,) bool handedness.
    Returns:
        ``CanonicalPose`` in the dtype of ``keypoints``.
    """
    _check_keypoints(keypoints, "to_canonical(keypoints)")
    dtype = keypoints.dtype
    is_left = torch.as_tensor(is_left, device=keypoints.device).reshape(-1).expand(keypoints.shape[0]).bool()
    points = keypoints.to(torch.float64)
    root = points[:, WRIST]
    centred = points - root[:, None]
    scale = centred[:, MIDDLE_MCP].norm(dim=-1)
    rotation = canonical_rotation(centred, is_left)
    pose = centred @ rotation.transpose(1, 2) / scale.clamp_min(_EPS)[:, None, None]
    pose = pose * _mirror_sign(is_left, pose.shape[0], pose)
    return CanonicalPose(
        pose=pose.to(dtype),
        viewpoint=rotation.transpose(1, 2).to(dtype),
        scale=scale.to(dtype),
        root=keypoints[:, WRIST].clone(),
        is_left=is_left.clone(),
    )


def from_canonical(
    pose: torch.Tensor,
    viewpoint: torch.Tensor,
    scale: torch.Tensor | float = 1.0,
    root: torch.Tensor | None = None,
    is_left: torch.Tensor | bool = False,
) -> torch.Tensor:
    """Rebuild keypoints ``viewpoint @ mirror_if_left(pose * scale) + root``.

    Args:
        pose: (B, 21, 3) canonical right-hand pose (scale-normalised).
        viewpoint: (B, 3, 3) canonical -> camera rotation.
        scale: (B,) or scalar, mm per canonical unit (1 keeps canonical units).
        root: (B, 3) wrist position, or None for the origin.
        is_left: (B,) bool or a bool for the whole batch.
    Returns:
        (B, 21, 3) keypoints in the dtype of ``pose``.
    """
    _check_keypoints(pose, "from_canonical(pose)")
    if viewpoint.shape != (pose.shape[0], 3, 3):
        raise ValueError(f"from_canonical(viewpoint): expected ({pose.shape[0]}, 3, 3), got {tuple(viewpoint.shape)}")
    batch = pose.shape[0]
    points = pose.to(torch.float64)
    points = points * _mirror_sign(torch.as_tensor(is_left), batch, points)
    scale64 = torch.as_tensor(scale, dtype=torch.float64, device=pose.device).reshape(-1).expand(batch)
    points = points * scale64[:, None, None]
    points = points @ viewpoint.to(torch.float64).transpose(1, 2)
    if root is not None:
        points = points + root.to(torch.float64)[:, None]
    return points.to(pose.dtype)


def rotation_to_6d(rotation: torch.Tensor) -> torch.Tensor:
    """Continuous 6D representation (Zhou et al. 2019): first two columns, (..., 3, 3) -> (..., 6)."""
    return torch.cat([rotation[..., :, 0], rotation[..., :, 1]], dim=-1)


def rotation_from_6d(sixd: torch.Tensor) -> torch.Tensor:
    """Rotation from the 6D representation by Gram-Schmidt, (..., 6) -> (..., 3, 3).

    Any 6-vector whose halves are not parallel maps to a proper rotation; for the output of
    ``rotation_to_6d`` it returns the original rotation.
    """
    a1, a2 = sixd[..., :3], sixd[..., 3:]
    b1 = a1 / a1.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    b2 = a2 - (b1 * a2).sum(dim=-1, keepdim=True) * b1
    b2 = b2 / b2.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)
