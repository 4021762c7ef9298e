"""Nested training state <-> (flat safetensors tensors, JSON metadata), and atomic file writes.

Optimizer, GradScaler, LR-scheduler and data-source states are nested dicts/lists mixing tensors
and plain values. ``flatten_state`` moves every tensor into a flat ``{key: tensor}`` dict (keys
carry a prefix such as ``"optim."``) and leaves a JSON skeleton that names them, so a checkpoint
is one safetensors file: tensors in the body, everything else in its JSON metadata. Dict keys
keep their type (optimizer state is keyed by integer parameter index), tuples stay tuples.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

_TENSOR, _DICT, _TUPLE = "__tensor__", "__dict__", "__tuple__"
_META_KEY = "meta"


class StateFileError(RuntimeError):
    """A state/checkpoint file is missing, truncated, or not the kind expected."""


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
            return {_DICT: [[key, visit(item, f"{path}.{key}")] for key, item in value.items()]}
        if isinstance(value, tuple):
            return {_TUPLE: [visit(item, f"{path}.{i}") for i, item in enumerate(value)]}
        if isinstance(value, list):
            return [visit(item, f"{path}.{i}") for i, item in enumerate(value)]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot store {type(value).__name__} at {path!r} in a checkpoint")

    skeleton = visit(state, prefix.rstrip("."))
    return skeleton, tensors


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of ``flatten_state``."""
    if isinstance(skeleton, list):
        return [unflatten_state(item, tensors) for item in skeleton]
    if isinstance(skeleton, dict):
        if _TENSOR in skeleton:
            key = skeleton[_TENSOR]
            if key not in tensors:
                raise StateFileError(f"checkpoint lacks the tensor {key!r}")
            return tensors[key]
        if _TUPLE in skeleton:
            return tuple(unflatten_state(item, tensors) for item in skeleton[_TUPLE])
        if _DICT in skeleton:
            return {key: unflatten_state(item, tensors) for key, item in skeleton[_DICT]}
    return skeleton


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the complete new one.

    Writes a temporary file beside ``path``, fsyncs it, then ``os.replace``s it over ``path``;
    an interruption at any point leaves the previous file untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_state_file(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Atomically write a safetensors file whose metadata holds ``meta`` as JSON."""
    data = safetensors.torch.save(tensors, metadata={_META_KEY: json.dumps(meta)})
    atomic_write_bytes(Path(path), data)


def load_state_file(path: Path, expect_kind: str | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a file written by ``save_state_file``: (tensors on CPU, meta).

    Raises ``StateFileError`` naming ``path`` when it is missing, unreadable or (with
    ``expect_kind``) when ``meta["kind"]`` differs.
    """
    path = Path(path)
    if not path.is_file():
        raise StateFileError(f"{path}: no such checkpoint file")
    try:
        with safetensors.safe_open(str(path), framework="pt", device="cpu") as f:
            raw_meta = (f.metadata() or {}).get(_META_KEY)
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as exc:  # safetensors raises several unrelated types for corrupt files
        raise StateFileError(f"{path}: not a readable safetensors checkpoint ({exc})") from exc
    if raw_meta is None:
        raise StateFileError(f"{path}: safetensors file without the {_META_KEY!r} metadata entry")
    meta = json.loads(raw_meta)
    if expect_kind is not None and meta.get("kind") != expect_kind:
        raise StateFileError(f"{path}: expected a {expect_kind!r} checkpoint, found {meta.get('kind')!r}")
    return tensors, meta
