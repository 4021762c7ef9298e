"""Inverse kinematics: joint angles (and a rigid pose) from 3D keypoints, and joint dragging.

All solvers share one batched, deterministic step: projected damped Gauss-Newton
(Levenberg-Marquardt) on the finger chains, with the analytic Jacobian of the revolute joints
taken from one ``forward_kinematics`` call per iteration. Each finger's four angles move only
its own three distal keypoints, so the five fingers are independent 4-unknown problems solved
together. Limits are kept by clamping after every step (joints at a limit that the step pushes
outward are frozen for that step). Bone lengths never change: the solvers only change angles.

- ``solve_fingers``: the core; targets and weights per joint, a mask of free angles.
- ``fit_angles``: angles + rotation + translation (+ optional size) fitted to keypoints.
- ``drag_joint``: the GUI's interactive drag of one joint (see its docstring).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from core.hand.joints import NUM_JOINTS, finger_joints
from core.hand.kinematics import ANGLES_PER_FINGER, NUM_ANGLES, HandShape, forward_kinematics
from core.hand.limits import angle_limits, clamp_angles

FINGER_KEYPOINTS = tuple(finger_joints(f)[1:] for f in range(5))  # the 3 angle-driven joints per finger
BASE_KEYPOINTS = (0,) + tuple(finger_joints(f)[0] for f in range(5))  # rigid in the hand frame
DIP_PER_PIP = 2.0 / 3.0  # natural finger motion couples DIP to ~2/3 of PIP (anatomy texts)


@dataclass
class SolverConfig:
    """Settings of the projected Levenberg-Marquardt finger solver."""

    iterations: int = 12
    damping: float = 1e-3  # relative to the mean diagonal of J^T J
    # Soft DIP = 2/3 PIP coupling of the four fingers, mm of residual per radian (0 disables).
    coupling_weight: float = 0.0
    # Pull toward the starting angles, mm per radian (0 disables); keeps drags local.
    prior_weight: float = 0.0


def _cross(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cross product over the last axis, written out: tiny batched LAPACK-free ops stay fast
    when other processes load the CPU (torch's parallel kernels then stall)."""
    ax, ay, az = a.unbind(-1)
    bx, by, bz = b.unbind(-1)
    return torch.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], dim=-1)


def _solve_small_spd(matrix: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve batched small symmetric positive definite systems (..., n, n) x = (..., n).

    Gaussian elimination without pivoting (safe for SPD), unrolled over n; for n = 4 this is
    much faster than ``torch.linalg.solve`` on small batches and never calls LAPACK.
    """
    n = matrix.shape[-1]
    rows = [matrix[..., i, :] for i in range(n)]
    values = [rhs[..., i] for i in range(n)]
    for k in range(n):
        for i in range(k + 1, n):
            factor = rows[i][..., k] / rows[k][..., k]
            rows[i] = rows[i] - factor[..., None] * rows[k]
            values[i] = values[i] - factor * values[k]
    solution: list[torch.Tensor] = [torch.zeros_like(values[0])] * n
    for k in reversed(range(n)):
        known = sum((rows[k][..., j] * solution[j] for j in range(k + 1, n)), torch.zeros_like(values[k]))
        solution[k] = (values[k] - known) / rows[k][..., k]
    return torch.stack(solution, dim=-1)


def _finger_jacobians(joints: torch.Tensor, frames: torch.Tensor, shape: HandShape) -> torch.Tensor:
    """d(joint position)/d(angle) for the 3 moving joints of every finger: (B, 5, 3, 3, 4).

    Axes: base flexion about the base frame's x, base abduction about the rest chain's z
    (``rot_z(abd) @ rot_x(flex)`` in the FK), middle and end flexion about their frames' x.
    """
    batch = joints.shape[0]
    idx = torch.tensor([finger_joints(f) for f in range(5)], device=joints.device)  # (5, 4)
    pos = joints[:, idx]  # (B, 5, 4, 3)
    fr = frames[:, idx]  # (B, 5, 4, 3, 3)
    base_rot = shape.base_rotations.to(joints.dtype).expand(batch, -1, -1, -1)
    axes = torch.stack([fr[:, :, 0, :, 0], base_rot[..., :, 2], fr[:, :, 1, :, 0], fr[:, :, 2, :, 0]], dim=2)
    pivots = pos[:, :, [0, 0, 1, 2]]  # (B, 5, 4, 3) joint each angle turns about
    moving = pos[:, :, 1:]  # (B, 5, 3, 3)
    arm = moving[:, :, :, None, :] - pivots[:, :, None, :, :]  # (B, 5, 3 joints, 4 angles, 3)
    jac = _cross(axes[:, :, None].expand_as(arm), arm)
    # An angle only moves the joints distal to its pivot.
    affects = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=joints.dtype, device=joints.device)
    jac = jac * affects[None, None, :, :, None]
    return jac.permute(0, 1, 2, 4, 3)  # (B, 5, 3 joints, 3 xyz, 4 angles)


def solve_fingers(
    angles: torch.Tensor,
    shape: HandShape,
    targets: torch.Tensor,
    weights: torch.Tensor,
    free: torch.Tensor | None = None,
    config: SolverConfig | None = None,
) -> torch.Tensor:
    """Move finger angles so the weighted keypoints reach their targets (hand frame).

    Args:
        angles: (B, 20) starting angles, radians.
        shape: the hands' geometry (batch B or 1).
        targets: (B, 21, 3) mm, hand frame; only the angle-driven joints matter.
        weights: (B, 21) >= 0 per joint (0 ignores a joint).
        free: (20,) or (B, 20) bool, angles allowed to change (default all).
        config: solver settings.
    Returns:
        (B, 20) angles within limits.
    """
    config = config or SolverConfig()
    batch = angles.shape[0]
    lower, upper = angle_limits(angles)
    lower, upper = lower.reshape(5, 4), upper.reshape(5, 4)
    base_free = torch.ones(batch, NUM_ANGLES, dtype=torch.bool, device=angles.device)
    if free is not None:
        base_free = base_free & free.to(angles.device).bool().expand(batch, NUM_ANGLES)
    base_free = base_free.reshape(batch, 5, 4)
    idx = torch.tensor(FINGER_KEYPOINTS, device=angles.device)  # (5, 3)
    sqrt_w = weights.to(angles.dtype).clamp_min(0).sqrt()[:, idx]  # (B, 5, 3)
    goal = targets.to(angles.dtype)[:, idx]  # (B, 5, 3, 3)
    start = angles.reshape(batch, 5, 4)
    current = clamp_angles(angles).reshape(batch, 5, 4)
    eye = torch.eye(4, dtype=angles.dtype, device=angles.device)
    coupling = torch.zeros(5, 4, dtype=angles.dtype, device=angles.device)
    coupling[1:, 2], coupling[1:, 3] = -DIP_PER_PIP, 1.0  # fingers only, not the thumb

    for _ in range(config.iterations):
        joints, frames = forward_kinematics(current.reshape(batch, NUM_ANGLES), shape)
        jac = _finger_jacobians(joints, frames, shape) * sqrt_w[..., None, None]  # (B, 5, 3, 3, 4)
        jac = jac.reshape(batch, 5, 9, 4)
        residual = ((goal - joints[:, idx]) * sqrt_w[..., None]).reshape(batch, 5, 9)
        if config.coupling_weight > 0:
            row = (config.coupling_weight * coupling).expand(batch, 5, 4)
            jac = torch.cat([jac, row[:, :, None]], dim=2)
            residual = torch.cat([residual, -(row * current).sum(-1, keepdim=True)], dim=2)
        free_mask = base_free
        for _attempt in range(2):  # second pass freezes joints the first pass pushed past a limit
            j_free = jac * free_mask[:, :, None].to(jac.dtype)
            normal = j_free.transpose(-1, -2) @ j_free
            gradient = (j_free.transpose(-1, -2) @ residual[..., None])[..., 0]
            if config.prior_weight > 0:
                prior = config.prior_weight**2
                normal = normal + prior * eye
                gradient = gradient - prior * (current - start) * free_mask
            scale = normal.diagonal(dim1=-2, dim2=-1).mean(-1)[..., None, None]
            damped = normal + (config.damping * scale + 1e-9) * eye + eye * (~free_mask)[..., None].to(jac.dtype)
            step = _solve_small_spd(damped, gradient) * free_mask
            proposal = current + step
            blocked = ((proposal < lower) & (current <= lower + 1e-6)) | ((proposal > upper) & (current >= upper - 1e-6))
            if not bool(blocked.any()):
                break
            free_mask = free_mask & ~blocked
        current = torch.maximum(torch.minimum(proposal, upper), lower)
    return current.reshape(batch, NUM_ANGLES)


# --------------------------------------------------------------------------- rigid fits


def rigid_fit(source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None,
              with_scale: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weighted Kabsch / Umeyama: ``target ~ scale * R @ source + t``.

    source, target: (B, N, 3); weights: (B, N) or None. Returns R (B, 3, 3) proper rotations,
    t (B, 3), scale (B,) (ones unless ``with_scale``). Computed in float64.
    """
    src, dst = source.to(torch.float64), target.to(torch.float64)
    w = torch.ones(src.shape[:2], dtype=torch.float64, device=src.device) if weights is None else weights.to(torch.float64)
    w = w / w.sum(-1, keepdim=True).clamp_min(1e-12)
    mu_s, mu_d = (w[..., None] * src).sum(1), (w[..., None] * dst).sum(1)
    cs, cd = src - mu_s[:, None], dst - mu_d[:, None]
    cov = (cd * w[..., None]).transpose(1, 2) @ cs  # (B, 3, 3)
    u, sigma, vh = torch.linalg.svd(cov)
    d = torch.sign(torch.linalg.det(u @ vh))
    fix = torch.ones_like(sigma)
    fix[:, 2] = d
    rotation = u @ torch.diag_embed(fix) @ vh
    scale = torch.ones_like(d)
    if with_scale:
        var = (w * cs.pow(2).sum(-1)).sum(-1)
        scale = (sigma * fix).sum(-1) / var.clamp_min(1e-12)
    t = mu_d - scale[:, None] * (rotation @ mu_s[..., None])[..., 0]
    return rotation.to(source.dtype), t.to(source.dtype), scale.to(source.dtype)


# --------------------------------------------------------------------------- keypoint fitting


@dataclass
class FitConfig:
    """Settings of ``fit_angles``."""

    rounds: int = 3  # alternations of rigid fit and finger solve
    fit_scale: bool = False  # also fit the hand's size (the shape is scaled uniformly)
    solver: SolverConfig = field(default_factory=lambda: SolverConfig(iterations=10, coupling_weight=2.0))


@dataclass
class FitResult:
    """``target ~ rotation @ mirror_if_left(FK(angles, shape * scale)) + translation``.

    angles: (B, 20) radians within limits; rotation: (B, 3, 3) hand frame -> target frame;
    translation: (B, 3) mm; scale: (B,) size factor (ones unless fitted);
    error: (B,) mean keypoint distance after the fit, mm.
    """

    angles: torch.Tensor
    rotation: torch.Tensor
    translation: torch.Tensor
    scale: torch.Tensor
    error: torch.Tensor


def _mirror_x(points: torch.Tensor, is_left: torch.Tensor) -> torch.Tensor:
    sign = torch.ones(points.shape[0], 3, dtype=points.dtype, device=points.device)
    sign[:, 0] = 1.0 - 2.0 * is_left.to(points.dtype)
    return points * sign.reshape(points.shape[0], *([1] * (points.dim() - 2)), 3)


def fit_angles(
    target_joints: torch.Tensor,
    shape: HandShape,
    is_left: torch.Tensor | None = None,
    init_angles: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
    config: FitConfig | None = None,
) -> FitResult:
    """Fit joint angles and a rigid pose of the given hands to 3D keypoints.

    Args:
        target_joints: (B, 21, 3) mm, internal order, in any frame (camera or hand frame).
        shape: the hands' geometry (batch B or 1); with ``config.fit_scale`` it is rescaled.
        is_left: (B,) bool; left hands are fitted as the mirror image of a right hand.
        init_angles: (B, 20) start (default zeros).
        weights: (B, 21) per-keypoint confidence (default ones; 0 drops a keypoint).
        config: rounds, scale fitting and solver settings.
    Returns:
        ``FitResult``. The wrist and knuckles are rigid in the hand frame, so the first rigid
        fit uses them alone; later rounds refit the rigid pose to all keypoints.
    """
    config = config or FitConfig()
    if target_joints.dim() != 3 or target_joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"fit_angles(target_joints): expected (B, 21, 3), got {tuple(target_joints.shape)}")
    batch, dtype, device = target_joints.shape[0], target_joints.dtype, target_joints.device
    is_left = torch.zeros(batch, dtype=torch.bool, device=device) if is_left is None else is_left.to(device).bool()
    weights = torch.ones(batch, NUM_JOINTS, dtype=dtype, device=device) if weights is None else weights.to(device, dtype)
    target = _mirror_x(target_joints, is_left)  # a right hand in a mirrored frame
    angles = torch.zeros(batch, NUM_ANGLES, dtype=dtype, device=device) if init_angles is None else init_angles.to(dtype)
    angles = clamp_angles(angles)
    base = list(BASE_KEYPOINTS)
    size = torch.ones(batch, dtype=dtype, device=device)
    for round_index in range(config.rounds):
        hand = shape.scaled(size).to(device, dtype) if config.fit_scale else shape.to(device, dtype)
        joints, _ = forward_kinematics(angles, hand)
        use = base if round_index == 0 else list(range(NUM_JOINTS))
        rotation, translation, scale = rigid_fit(joints[:, use], target[:, use], weights[:, use], config.fit_scale)
        size = size * scale
        hand = shape.scaled(size).to(device, dtype) if config.fit_scale else hand
        local = (target - translation[:, None]) @ rotation  # the scaled hand's own frame
        angles = solve_fingers(angles, hand, local, weights, config=config.solver)
    hand = shape.scaled(size).to(device, dtype) if config.fit_scale else shape.to(device, dtype)
    joints, _ = forward_kinematics(angles, hand)
    rotation, translation, _ = rigid_fit(joints, target, weights)
    fitted = joints @ rotation.transpose(1, 2) + translation[:, None]
    error = ((fitted - target).norm(dim=-1) * weights).sum(-1) / weights.sum(-1).clamp_min(1e-12)
    # Undo the mirror: rotation' = M R M acts on the mirrored hand frame, translation' = M t.
    flip = _mirror_x(torch.eye(3, dtype=dtype, device=device).expand(batch, 3, 3), is_left)
    rotation = flip.transpose(1, 2) @ rotation @ flip.transpose(1, 2)
    return FitResult(angles, rotation, _mirror_x(translation, is_left), size, error)


# --------------------------------------------------------------------------- dragging


@dataclass
class DragConfig:
    """Settings of ``drag_joint``: few iterations, a pull toward the current pose."""

    solver: SolverConfig = field(
        default_factory=lambda: SolverConfig(iterations=8, damping=1e-2, coupling_weight=10.0, prior_weight=5.0)
    )


def drag_free_angles(joint_index: int) -> torch.Tensor:
    """(20,) bool: the angles ``drag_joint`` may change to move ``joint_index``.

    Those of its own finger that are proximal to it: a fingertip uses all four (the finger
    curls), a PIP/thumb MCP only the base flexion and abduction. None for the wrist and the
    knuckles (thumb CMC, finger MCPs), which the angles cannot move.
    """
    free = torch.zeros(NUM_ANGLES, dtype=torch.bool)
    if joint_index in BASE_KEYPOINTS:
        return free
    finger, rank = (joint_index - 1) // 4, (joint_index - 1) % 4  # rank 1..3 = 2nd..tip
    free[finger * ANGLES_PER_FINGER : finger * ANGLES_PER_FINGER + rank + 1] = True
    return free


def drag_joint(
    angles: torch.Tensor,
    shape: HandShape,
    joint_index: int,
    target_position: torch.Tensor,
    config: DragConfig | None = None,
) -> torch.Tensor:
    """Move one joint toward a target, the joints proximal in its finger following.

    Args:
        angles: (20,) current angles, radians.
        shape: the hand's geometry (batch 1).
        joint_index: internal joint index 0..20.
        target_position: (3,) mm in the **hand frame of a right hand** (the FK frame): a GUI
            showing a left hand or a camera view maps the cursor back first (inverse viewpoint,
            then mirror x for a left hand).
    Returns:
        (20,) new angles within limits. Only the dragged joint's own finger changes, bone lengths
        are untouched by construction, and the fingers keep DIP ~ 2/3 PIP softly. Targets out of
        reach give the closest reachable pose. The wrist and the knuckles are rigid in the hand
        frame: for them the angles come back unchanged, and the caller moves the whole hand
        (translate it by ``target - joint``), which is what the GUI should do.

    Deterministic (fixed iteration count, no randomness); about 8 FK evaluations of one hand.
    """
    if not 0 <= joint_index < NUM_JOINTS:
        raise ValueError(f"drag_joint(joint_index): expected 0..{NUM_JOINTS - 1}, got {joint_index}")
    if angles.shape != (NUM_ANGLES,):
        raise ValueError(f"drag_joint(angles): expected ({NUM_ANGLES},), got {tuple(angles.shape)}")
    free = drag_free_angles(joint_index)
    if not bool(free.any()):
        return clamp_angles(angles.clone())
    config = config or DragConfig()
    targets = torch.zeros(1, NUM_JOINTS, 3, dtype=angles.dtype, device=angles.device)
    targets[0, joint_index] = target_position.to(angles.dtype)
    weights = torch.zeros(1, NUM_JOINTS, dtype=angles.dtype, device=angles.device)
    weights[0, joint_index] = 1.0
    out = solve_fingers(angles[None], shape.to(angles.device, angles.dtype), targets, weights, free, config.solver)
    return out[0]
