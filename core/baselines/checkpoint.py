"""Saving and loading the baselines, and opening any pose-estimating checkpoint.

Baselines use the project's checkpoint format (``core.checkpoint``: safetensors + JSON metadata)
with their own ``kind``; ``load_pose_estimator`` reads the kind first and dispatches on it
explicitly, so a file of an unknown architecture is refused with its name and kind.
"""
from __future__ import annotations

from pathlib import Path

import torch

from core.baselines.crossmodal import CROSSMODAL_KIND, CrossModalConfig, CrossModalVAE
from core.baselines.direct import DIRECT_KIND, DirectRegression, DirectRegressionConfig
from core.baselines.estimator import DVAEEstimator, PoseEstimator
from core.checkpoint import (TRAINER_STATE_KIND, CheckpointError, CheckpointMeta, load_checkpoint, load_model,
                             load_weights_into, read_meta, save_checkpoint, wrong_kind_message)
from core.models.dvae import MODEL_KIND

Baseline = DirectRegression | CrossModalVAE
ESTIMATOR_KINDS = (MODEL_KIND, DIRECT_KIND, CROSSMODAL_KIND)


def save_baseline(path: Path | str, model: Baseline, step: int = 0, extra: dict | None = None) -> Path:
    """Write a baseline's weights and config (its ``kind`` says which baseline) atomically."""
    meta = CheckpointMeta(kind=model.kind, config=model.config.to_dict(), step=step, extra=dict(extra or {}))
    tensors = {name: t for name, t in model.state_dict().items()}
    return save_checkpoint(path, tensors, meta)


def load_baseline(path: Path | str, device: str | torch.device = "cpu") -> tuple[Baseline, CheckpointMeta]:
    """Rebuild a baseline from its checkpoint; ``CheckpointError`` for any other kind."""
    meta = read_meta(path)
    if meta.kind == DIRECT_KIND:
        build = lambda: DirectRegression(DirectRegressionConfig.from_saved(meta.config))  # noqa: E731
    elif meta.kind == CROSSMODAL_KIND:
        build = lambda: CrossModalVAE(CrossModalConfig.from_saved(meta.config))  # noqa: E731
    else:
        raise CheckpointError(f"{path}: checkpoint of kind {meta.kind!r} is not a baseline "
                              f"(expected {DIRECT_KIND!r} or {CROSSMODAL_KIND!r})")
    try:
        model = build()
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: its config does not fit {meta.kind!r} ({exc})") from exc
    tensors, _ = load_checkpoint(path, expect_kind=meta.kind)
    load_weights_into(model, tensors, path)
    return model.to(device).eval(), meta


def load_pose_estimator(path: Path | str, device: str | torch.device = "cpu") -> tuple[PoseEstimator, CheckpointMeta]:
    """Any checkpoint that estimates poses (dVAE, direct regression, cross-modal VAE) as a
    ``PoseEstimator``, with its metadata; ``CheckpointError`` names the file otherwise."""
    meta = read_meta(path)
    if meta.kind == MODEL_KIND:
        model, meta = load_model(path, device)
        return DVAEEstimator(model.eval()), meta
    if meta.kind in (DIRECT_KIND, CROSSMODAL_KIND):
        return load_baseline(path, device)
    if meta.kind == TRAINER_STATE_KIND:
        raise CheckpointError(wrong_kind_message(path, meta.kind, MODEL_KIND))
    raise CheckpointError(f"{path}: checkpoint of kind {meta.kind!r} does not estimate poses; "
                          f"known kinds: {', '.join(ESTIMATOR_KINDS)}")
