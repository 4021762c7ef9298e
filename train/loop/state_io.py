"""Nested training state <-> (flat safetensors tensors, JSON metadata).

Optimizer, GradScaler, LR-scheduler and data-source states are nested dicts/lists mixing tensors
and plain values. ``flatten_state`` moves every tensor into a flat ``{key: tensor}`` dict (keys
carry a prefix such as ``"optim"``) and leaves a JSON skeleton that names them, so a checkpoint
is one safetensors file (``core.checkpoint``): tensors in the body, everything else in its JSON
metadata. Tensor keys are ``prefix/path/to/leaf`` (the ``core.checkpoint`` convention for
extras). Dict keys keep their type (optimizer state is keyed by integer parameter index),
tuples stay tuples.
"""
from __future__ import annotations

from typing import Any

import torch

from core.checkpoint import CheckpointError

_TENSOR, _DICT, _TUPLE = "__tensor__", "__dict__", "__tuple__"


def flatten_state(state: Any, prefix: str) -> tuple[Any, dict[str, torch.Tensor]]:
    """Split ``state`` into (JSON-compatible skeleton, {prefix + path: tensor}).

    Tensors are copied to contiguous CPU tensors (safetensors refuses shared storage).
    """
    tensors: dict[str, torch.Tensor] = {}

    def visit(value: Any, path: str) -> Any:
        if isinstance(value, torch.Tensor):
            if path in tensors:
                raise ValueError(f"two tensors of the state map to the checkpoint key {path!r}")
            tensors[path] = value.detach().to("cpu", copy=True).contiguous()
            return {_TENSOR: path}
        if isinstance(value, dict):
            return {_DICT: [[key, visit(item, f"{path}/{key}")] for key, item in value.items()]}
        if isinstance(value, tuple):
            return {_TUPLE: [visit(item, f"{path}/{i}") for i, item in enumerate(value)]}
        if isinstance(value, list):
            return [visit(item, f"{path}/{i}") for i, item in enumerate(value)]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot store {type(value).__name__} at {path!r} in a checkpoint")

    skeleton = visit(state, prefix.rstrip("/"))
    return skeleton, tensors


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of ``flatten_state``."""
    if isinstance(skeleton, list):
        return [unflatten_state(item, tensors) for item in skeleton]
    if isinstance(skeleton, dict):
        if _TENSOR in skeleton:
            key = skeleton[_TENSOR]
            if key not in tensors:
                raise CheckpointError(f"checkpoint lacks the tensor {key!r}")
            return tensors[key]
        if _TUPLE in skeleton:
            return tuple(unflatten_state(item, tensors) for item in skeleton[_TUPLE])
        if _DICT in skeleton:
            return {key: unflatten_state(item, tensors) for key, item in skeleton[_DICT]}
    return skeleton
