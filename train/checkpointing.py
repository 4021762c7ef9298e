"""The trainer's checkpoint: everything needed to continue a run bit-identically.

One ``core.checkpoint`` file (kind ``"dvae-hands/trainer-state"``), written atomically:
- tensors ``model/*`` (the unwrapped model's state_dict), ``objective/*`` (when the objective
  is a module with state), ``optim/*``, ``scaler/*``, ``sched/*``, and per rank r
  ``rank{r}/rng_cpu`` / ``rank{r}/rng_cuda`` (uint8 RNG states) and ``rank{r}/data/*``;
- metadata: ``config`` = the TrainerConfig, ``step``, and ``extra`` = phase, max_steps,
  elapsed_s, world_size, the skeletons of the nested states (``train.state_io``) and the
  caller's ``extra_meta`` (e.g. the model config that built the weights).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from core.checkpoint import TRAINER_STATE_KIND, CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint
from train.state_io import flatten_state, unflatten_state

if TYPE_CHECKING:
    from train.trainer import Trainer

FORMAT_VERSION = 1


def _rank_state(trainer: "Trainer") -> dict[str, Any]:
    """What differs between ranks: RNG states and the data source's position."""
    state: dict[str, Any] = {"rng_cpu": torch.get_rng_state()}
    if trainer.device.type == "cuda":
        state["rng_cuda"] = torch.cuda.get_rng_state(trainer.device)
    source = trainer.data_source
    state["data"] = source.state_dict() if hasattr(source, "state_dict") else None
    return state


def _objective_state(trainer: "Trainer") -> dict[str, torch.Tensor]:
    return trainer.objective.state_dict() if isinstance(trainer.objective, nn.Module) else {}


def save_trainer_state(trainer: "Trainer", path: Path, keep_copy: Path | None = None) -> None:
    """Gather every rank's state and (on rank 0) write ``path`` and optionally ``keep_copy``."""
    rank_states = trainer.dist.gather_objects(_rank_state(trainer))
    if not trainer.dist.is_main:
        return
    if rank_states[0]["data"] is None:
        warnings.warn(f"data source {type(trainer.data_source).__name__} has no state_dict(): a run "
                      "resumed from this checkpoint will not see the same batches", stacklevel=3)
    parts = {
        "model": trainer.model.state_dict(),
        "objective": _objective_state(trainer),
        "optim": trainer.optimizer.state_dict(),
        "scaler": trainer.scaler.state_dict(),
        "sched": trainer.lr_scheduler.state_dict() if trainer.lr_scheduler is not None else None,
        **{f"rank{r}": state for r, state in enumerate(rank_states)},
    }
    tensors: dict[str, torch.Tensor] = {}
    skeletons: dict[str, Any] = {}
    for prefix, state in parts.items():
        skeletons[prefix], part_tensors = flatten_state(state, prefix)
        tensors.update(part_tensors)
    extra = {
        "format": FORMAT_VERSION, "phase": trainer.phase, "step": trainer.step,
        "max_steps": trainer.config.max_steps, "elapsed_s": trainer.elapsed_s,
        "world_size": trainer.dist.world_size, "config": trainer.config_dict(),
        "states": skeletons, "extra": trainer.extra_meta,
    }
    meta = CheckpointMeta(kind=TRAINER_STATE_KIND, config=trainer.config_dict(), step=trainer.step, extra=extra)
    save_checkpoint(path, tensors, meta)
    if keep_copy is not None:
        save_checkpoint(keep_copy, tensors, meta)


def _load(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, meta = load_checkpoint(path, expect_kind=TRAINER_STATE_KIND)
    return tensors, meta.extra


def read_trainer_meta(path: Path) -> dict[str, Any]:
    """What a trainer checkpoint says of itself: phase, step, max_steps, elapsed_s, world_size,
    config (the TrainerConfig), extra (the caller's ``extra_meta``), states (skeletons)."""
    return _load(path)[1]


def load_model_state(path: Path) -> dict[str, torch.Tensor]:
    """Only the model's state_dict from a trainer checkpoint (e.g. to start the next phase)."""
    tensors, meta = _load(path)
    return unflatten_state(meta["states"]["model"], tensors)


def load_trainer_state(trainer: "Trainer", path: Path) -> None:
    """Restore a ``Trainer`` from ``path`` (every rank reads the same file)."""
    tensors, meta = _load(path)
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: trainer-state format {meta.get('format')}, this code reads {FORMAT_VERSION}")
    if meta["phase"] != trainer.phase:
        raise CheckpointError(f"{path}: checkpoint of phase {meta['phase']!r}, resuming phase {trainer.phase!r}")
    states = {key: unflatten_state(skeleton, tensors) for key, skeleton in meta["states"].items()}
    try:
        trainer.model.load_state_dict(states["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: model weights do not fit this model: {exc}") from exc
    if isinstance(trainer.objective, nn.Module) and states["objective"]:
        trainer.objective.load_state_dict(states["objective"])
    trainer.optimizer.load_state_dict(states["optim"])
    trainer.scaler.load_state_dict(states["scaler"])
    if trainer.lr_scheduler is not None and states["sched"] is not None:
        trainer.lr_scheduler.load_state_dict(states["sched"])
    saved_world = int(meta["world_size"])
    if saved_world != trainer.dist.world_size:
        warnings.warn(f"{path}: written by {saved_world} process(es), resumed by {trainer.dist.world_size}: "
                      "batches and random numbers will differ from an uninterrupted run", stacklevel=2)
    rank_state = states[f"rank{min(trainer.dist.rank, saved_world - 1)}"]
    torch.set_rng_state(rank_state["rng_cpu"])
    if trainer.device.type == "cuda" and "rng_cuda" in rank_state:
        torch.cuda.set_rng_state(rank_state["rng_cuda"], trainer.device)
    if rank_state["data"] is not None and hasattr(trainer.data_source, "load_state_dict"):
        trainer.data_source.load_state_dict(rank_state["data"])
    trainer.step = int(meta["step"])
    trainer.restore_clock(float(meta["elapsed_s"]))
