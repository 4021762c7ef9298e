"""Camera geometry for weak (2D-only) supervision: projection and the closed-form root solve."""
from __future__ import annotations

import torch


def project(points: torch.Tensor, K: torch.Tensor, min_depth: float = 1e-3) -> torch.Tensor:
    """Pinhole projection of camera-frame points (B, J, 3) with intrinsics K (B, 3, 3) -> (B, J, 2) px.

    Depths below ``min_depth`` are clamped so a bad guess early in training cannot divide by 0.
    """
    homogeneous = points @ K.transpose(1, 2)
    depth = homogeneous[..., 2:].clamp_min(min_depth)
    return homogeneous[..., :2] / depth


def solve_root_translation(
    relative: torch.Tensor,
    keypoints_2d: torch.Tensor,
    K: torch.Tensor,
    weights: torch.Tensor,
    ridge: float = 1e-9,
) -> torch.Tensor:
    """The translation t that best places root-relative points on the rays of their 2D keypoints.

    For each joint, with unit ray ``d_i`` through pixel ``(u_i, v_i)`` (``d_i ~ K^-1 [u, v, 1]``),
    ``(X_i + t) x d_i = 0`` is linear in t; its least-squares solution minimises
    ``sum_i w_i |(I - d_i d_i^T)(X_i + t)|^2``, i.e. solves the 3x3 normal equations
    ``(sum_i w_i P_i) t = -sum_i w_i P_i X_i`` with ``P_i = I - d_i d_i^T``. Differentiable in
    ``relative`` (the decoded pose) through ``torch.linalg.solve``. Solved in float64: along
    the viewing direction the system is poorly conditioned (the rays are nearly parallel).

    Args:
        relative: (B, J, 3) root-relative points (mm).
        keypoints_2d: (B, J, 2) px.
        K: (B, 3, 3) intrinsics.
        weights: (B, J) per-joint weights (visibility); each row needs >= 2 non-zero weights.
        ridge: relative Tikhonov term keeping nearly degenerate systems solvable.
    Returns:
        t: (B, 3) translation (mm) such that ``relative + t`` projects near ``keypoints_2d``.
    """
    out_dtype = relative.dtype
    relative, keypoints_2d, K = relative.double(), keypoints_2d.double(), K.double()
    ones = torch.ones_like(keypoints_2d[..., :1])
    pixels = torch.cat([keypoints_2d, ones], dim=-1)                     # (B, J, 3)
    rays = pixels @ torch.linalg.inv(K).transpose(1, 2)
    rays = rays / rays.norm(dim=-1, keepdim=True)
    eye = torch.eye(3, dtype=relative.dtype, device=relative.device)
    proj = eye - rays[..., :, None] * rays[..., None, :]                 # (B, J, 3, 3)
    w = weights.to(relative.dtype)[..., None, None]
    A = (w * proj).sum(dim=1)                                            # (B, 3, 3)
    b = -(w * proj @ relative[..., None]).sum(dim=1)                     # (B, 3, 1)
    scale = A.diagonal(dim1=-2, dim2=-1).sum(-1).clamp_min(1e-12)[:, None, None]
    A = A + ridge * scale * eye
    return torch.linalg.solve(A, b).squeeze(-1).to(out_dtype)
