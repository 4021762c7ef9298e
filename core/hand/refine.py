"""Refining hand parameters on a residual: the last stage of fitting a kinematic hand to 2D points
(``core.landmark_fit`` for MediaPipe's landmarks, ``core.export.lift`` for OpenPose keypoints)."""
from __future__ import annotations

from typing import Callable

import torch

from core.hand.limits import clamp_angles


def clamped(params: torch.Tensor) -> torch.Tensor:
    """Parameters (B, 26) = 20 joint angles then a 6D rotation, the angles within the joint limits."""
    return torch.cat([clamp_angles(params[:, :20]), params[:, 20:]], dim=1)


def refine(residuals: Callable[[torch.Tensor], torch.Tensor], params: torch.Tensor, ik_steps: int, ik_lr: float,
           lm_steps: int) -> torch.Tensor:
    """Parameters (B, 26) refined on ``residuals`` ((B', 26) -> (B', R)): ``ik_steps`` Adam steps
    bring each start near a minimum, then ``lm_steps`` projected Levenberg-Marquardt steps (Jacobian
    by central differences, one batched call per step) settle into it; joint limits are kept
    after every step. Returns the refined (B, 26), detached."""
    params = params.clone().requires_grad_(True)
    if ik_steps:
        optimiser = torch.optim.Adam([params], lr=ik_lr)
        for _ in range(ik_steps):
            loss = residuals(params).square().sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                params.copy_(clamped(params))
    params = params.detach()
    batch, n = params.shape
    damping = torch.full((batch,), 1e-3, dtype=params.dtype)
    eye, eps = torch.eye(n, dtype=params.dtype), 1e-6
    with torch.no_grad():
        residual = residuals(params)
        for _ in range(lm_steps):
            shifted = params[:, None, :] + eps * torch.cat([eye, -eye])[None]  # (B, 2n, n)
            r = residuals(shifted.reshape(-1, n)).reshape(batch, 2 * n, -1)
            jac = ((r[:, :n] - r[:, n:]) / (2 * eps)).transpose(1, 2)  # (B, R, n)
            jtj = jac.transpose(1, 2) @ jac
            scale = jtj.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-12)
            step = torch.linalg.solve(jtj + (damping * scale)[:, None, None] * eye,
                                      -(jac.transpose(1, 2) @ residual[..., None]))[..., 0]
            candidate = clamped(params + step)
            new_residual = residuals(candidate)
            better = new_residual.square().sum(-1) < residual.square().sum(-1)
            params = torch.where(better[:, None], candidate, params)
            residual = torch.where(better[:, None], new_residual, residual)
            damping = torch.where(better, damping / 3.0, damping * 4.0).clamp(1e-9, 1e6)
    return params
