"""The trainer's checkpoint file: ``Trainer.state_dict()`` <-> one safetensors file.

This module only serialises the dict; what goes into it and how it is restored is the trainer's
business (``Trainer.state_dict`` / ``Trainer.load_state_dict``). One ``core.checkpoint`` file
(kind ``"dvae-hands/trainer-state"``), written atomically:
- tensors ``model/*``, ``objective/*``, ``optim/*``, ``scaler/*``, ``sched/*`` and per rank r
  ``rank{r}/*`` (the ``ranks`` list: RNG states and the data source's position);
- metadata: ``config`` = the TrainerConfig, ``step``, and ``extra`` = format, phase, step,
  max_steps, elapsed_s, world_size, config, the skeletons of the nested states
  (``train.loop.state_io``) and the caller's ``extra_meta``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from core.checkpoint import TRAINER_STATE_KIND, CheckpointError, CheckpointMeta, load_checkpoint, save_checkpoint
from train.loop.state_io import flatten_state, unflatten_state

FORMAT_VERSION = 1

# The nested parts of a trainer state (besides the per-rank ``ranks`` list), in file order.
STATE_PARTS = ("model", "objective", "optim", "scaler", "sched")
# The plain values of a trainer state, stored in the metadata.
STATE_VALUES = ("phase", "step", "max_steps", "elapsed_s", "world_size", "config", "extra")


def save_trainer_state(state: dict[str, Any], path: Path, keep_copy: Path | None = None) -> None:
    """Write a ``Trainer.state_dict()`` to ``path`` (and to ``keep_copy`` when given)."""
    parts = {**{key: state[key] for key in STATE_PARTS},
             **{f"rank{r}": rank_state for r, rank_state in enumerate(state["ranks"])}}
    tensors: dict[str, torch.Tensor] = {}
    skeletons: dict[str, Any] = {}
    for prefix, part in parts.items():
        skeletons[prefix], part_tensors = flatten_state(part, prefix)
        tensors.update(part_tensors)
    extra = {
        "format": FORMAT_VERSION, "phase": state["phase"], "step": state["step"],
        "max_steps": state["max_steps"], "elapsed_s": state["elapsed_s"],
        "world_size": state["world_size"], "config": state["config"],
        "states": skeletons, "extra": state["extra"],
    }
    meta = CheckpointMeta(kind=TRAINER_STATE_KIND, config=state["config"], step=state["step"], extra=extra)
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


def load_trainer_state(path: Path) -> dict[str, Any]:
    """Read the ``Trainer.state_dict()`` that ``save_trainer_state`` wrote to ``path``."""
    tensors, meta = _load(path)
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: trainer-state format {meta.get('format')}, this code reads {FORMAT_VERSION}")
    states = {key: unflatten_state(skeleton, tensors) for key, skeleton in meta["states"].items()}
    state = {key: meta[key] for key in STATE_VALUES}
    state.update({key: states[key] for key in STATE_PARTS})
    state["ranks"] = [states[f"rank{r}"] for r in range(int(meta["world_size"]))]
    return state
