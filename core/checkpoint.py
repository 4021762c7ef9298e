"""Checkpoints that describe themselves: one safetensors file with weights and JSON metadata.

File layout: safetensors (weights; extra tensors such as optimizer state under a ``prefix/``,
e.g. ``optimizer/state/0/exp_avg``) whose string metadata holds

- ``format``: ``"dvae-hands-checkpoint"``, ``format_version``: ``"1"``;
- ``kind``: the architecture name (e.g. ``"dvae-hands/dvae-v1"``);
- ``config``: JSON of the config that built the model (``DVAEConfig.to_dict``, with its
  ``config_version``; one without is version 1 and keeps version 1's defaults, ``core.config_io``);
- ``step``: training step; ``package_version``: version of ``dvae-hands`` that wrote it;
- ``extra``: JSON of anything else (e.g. the optimizer's non-tensor state, trainer settings).

Writes are atomic (temporary file in the same folder, fsync, ``os.replace``): a crash leaves the
previous checkpoint or none, never half a file. Every failure to read is a ``CheckpointError``
that names the file and says what is wrong: missing, truncated, not a checkpoint, or another
architecture.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import secrets
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from core.models.config import DVAEConfig
from core.models.dvae import DVAE, MODEL_KIND

FORMAT_NAME = "dvae-hands-checkpoint"
FORMAT_VERSION = 1
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit


class CheckpointError(Exception):
    """A checkpoint could not be read or does not fit; the message names the file and the cause."""


# The kind of ``train.loop.checkpointing``'s files (named here so that a model loader can say what it got).
TRAINER_STATE_KIND = "dvae-hands/trainer-state"


def wrong_kind_message(path: Path | str, kind: str, expected: str) -> str:
    """Why the file at ``path`` (kind ``kind``) is not the ``expected`` kind of checkpoint. A
    training state (``<run>/checkpoints/<phase>/last.safetensors``) is named as such, with its
    run's model file."""
    if kind != TRAINER_STATE_KIND:
        return f"{path}: checkpoint of another architecture: kind {kind!r}, expected {expected!r}"
    path = Path(path)
    model = path.parents[2] / "model.safetensors" if len(path.parents) > 2 else None
    where = (f"its model is at {model}" if model is not None and model.is_file() else
             "train.fit writes a run's model to <run>/model.safetensors")
    return (f"{path}: this is a training state (for train.fit --resume), not a model; {where}")


def package_version() -> str:
    """Installed version of the ``dvae-hands`` distribution, or ``"0+unknown"``."""
    try:
        return importlib.metadata.version("dvae-hands")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass
class CheckpointMeta:
    """What a checkpoint says about itself."""

    kind: str
    config: dict[str, Any]
    step: int = 0
    package_version: str = field(default_factory=package_version)
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_metadata(self) -> dict[str, str]:
        """As safetensors string metadata."""
        return {
            "format": FORMAT_NAME,
            "format_version": str(self.format_version),
            "kind": self.kind,
            "config": json.dumps(self.config, sort_keys=True),
            "step": str(int(self.step)),
            "package_version": self.package_version,
            "extra": json.dumps(self.extra, sort_keys=True),
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, str] | None, path: Path | str) -> "CheckpointMeta":
        """Parse a safetensors file's metadata; ``CheckpointError`` (naming ``path``) if it is not ours."""
        if not metadata or metadata.get("format") != FORMAT_NAME:
            raise CheckpointError(
                f"{path}: not a checkpoint of this project (a safetensors file without "
                f"'format': '{FORMAT_NAME}' metadata)"
            )
        try:
            version = int(metadata["format_version"])
            meta = cls(
                kind=metadata["kind"],
                config=json.loads(metadata["config"]),
                step=int(metadata.get("step", "0")),
                package_version=metadata.get("package_version", "0+unknown"),
                format_version=version,
                extra=json.loads(metadata.get("extra", "{}")),
            )
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{path}: not a checkpoint: damaged metadata ({exc!r})") from exc
        if version > FORMAT_VERSION:
            raise CheckpointError(
                f"{path}: checkpoint format {version} is newer than this program reads ({FORMAT_VERSION}); "
                f"it was written by dvae-hands {meta.package_version}"
            )
        return meta


def save_checkpoint(path: Path | str, tensors: dict[str, torch.Tensor], meta: CheckpointMeta) -> Path:
    """Write ``tensors`` and ``meta`` to ``path`` atomically; returns the path.

    Tensors are stored as given (detached, on the CPU, contiguous); names with a ``/`` are by
    convention extras under a prefix (``optimizer/...``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    data = safetensors.torch.save(cpu, metadata=meta.to_metadata())
    fd, tmp_name = _create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new, uniquely named file beside ``path``, opened for writing: ``(fd, name)``.

    Created with mode 0o666 less the umask, like any file ``open()`` creates (0o644 under the
    usual umask 022); ``tempfile.mkstemp`` makes 0o600 files, which left checkpoints unreadable to
    other users of a shared run folder.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        name = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(name, flags, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: could not create a temporary file for {path.name}")


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable where the platform allows it (not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_file(path: Path) -> None:
    """Raise a CheckpointError saying why ``path`` cannot be a complete safetensors file."""
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint file missing")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    size = path.stat().st_size
    with path.open("rb") as handle:
        first = handle.read(8)
        if len(first) < 8:
            raise CheckpointError(f"{path}: not a checkpoint (only {size} bytes; truncated or empty file)")
        (header_len,) = struct.unpack("<Q", first)
        start = handle.read(2)
        if header_len > _MAX_HEADER_BYTES or not start.startswith(b"{"):
            raise CheckpointError(f"{path}: not a checkpoint (not a safetensors file)")
        if 8 + header_len > size:
            raise CheckpointError(
                f"{path}: truncated checkpoint ({size} bytes, its header alone says {8 + header_len}); "
                "the file was cut off, e.g. by an interrupted copy"
            )
        handle.seek(8)
        try:
            header = json.loads(handle.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path}: not a checkpoint (unreadable safetensors header)") from exc
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a checkpoint (unreadable safetensors header)")
    ends = [entry["data_offsets"][1] for name, entry in header.items()
            if name != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry]
    needed = 8 + header_len + max(ends, default=0)
    if needed > size:
        raise CheckpointError(f"{path}: truncated checkpoint ({size} of {needed} bytes); the file was cut off")


def read_meta(path: Path | str) -> CheckpointMeta:
    """The metadata of a checkpoint, without reading its tensors."""
    path = Path(path)
    _check_file(path)
    with safetensors.safe_open(str(path), framework="pt") as handle:
        return CheckpointMeta.from_metadata(handle.metadata(), path)


def load_checkpoint(
    path: Path | str, expect_kind: str | None = None, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], CheckpointMeta]:
    """Read a checkpoint: ``(tensors, meta)``.

    Raises ``CheckpointError`` if the file is missing, truncated, not a checkpoint of this
    project, or (with ``expect_kind``) of another architecture.
    """
    path = Path(path)
    meta = read_meta(path)
    if expect_kind is not None and meta.kind != expect_kind:
        raise CheckpointError(wrong_kind_message(path, meta.kind, expect_kind))
    try:
        tensors = safetensors.torch.load_file(str(path), device=str(device))
    except Exception as exc:  # safetensors raises its own error type for damaged data
        raise CheckpointError(f"{path}: damaged checkpoint ({exc})") from exc
    return tensors, meta


def split_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors stored under ``prefix/``, with the prefix removed."""
    lead = prefix.rstrip("/") + "/"
    return {name[len(lead):]: t for name, t in tensors.items() if name.startswith(lead)}


def pack_optimizer_state(state_dict: dict[str, Any], prefix: str = "optimizer") -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer's ``state_dict()`` -> (tensors under ``prefix/``, JSON-able rest).

    Store the tensors beside the weights and the rest in ``CheckpointMeta.extra``.
    """
    tensors: dict[str, torch.Tensor] = {}
    plain_state: dict[str, dict[str, Any]] = {}
    for param_id, values in state_dict["state"].items():
        plain_state[str(param_id)] = {}
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}/state/{param_id}/{key}"] = value
            else:
                plain_state[str(param_id)][key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "plain_state": plain_state}


def unpack_optimizer_state(tensors: dict[str, torch.Tensor], packed: dict, prefix: str = "optimizer") -> dict[str, Any]:
    """Inverse of ``pack_optimizer_state``: an optimizer ``state_dict`` to ``load_state_dict``."""
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in packed["plain_state"].items()}
    for name, tensor in split_prefix(tensors, f"{prefix}/state").items():
        param_id, key = name.split("/", 1)
        state.setdefault(int(param_id), {})[key] = tensor
    return {"state": state, "param_groups": packed["param_groups"]}


# ---- the dVAE model ----------------------------------------------------------------------------
def model_tensors(model: DVAE, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """The model's weights by state-dict name; floating tensors cast to ``dtype`` if given
    (``torch.float16`` for the bundled model)."""
    out = {}
    for name, tensor in model.state_dict().items():
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        out[name] = tensor
    return out


def save_model(
    path: Path | str,
    model: DVAE,
    step: int = 0,
    extra_tensors: dict[str, torch.Tensor] | None = None,
    extra: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Save a ``DVAE`` with its config; ``extra_tensors`` must be named ``prefix/...``.

    ``half=True`` stores the weights in float16 (about half the size; loading restores float32).
    """
    tensors = model_tensors(model, torch.float16 if half else None)
    for name in extra_tensors or {}:
        if "/" not in name:
            raise ValueError(f"save_model: extra tensor {name!r} needs a 'prefix/' (e.g. 'optimizer/...')")
    tensors.update(extra_tensors or {})
    meta = CheckpointMeta(kind=model.kind, config=model.config.to_dict(), step=step, extra=dict(extra or {}))
    return save_checkpoint(path, tensors, meta)


def load_weights_into(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path | str) -> None:
    """Copy the weights (names without ``/``) into ``model``; a CheckpointError if names or
    shapes differ (another architecture). Float16 weights are cast to the model's dtype."""
    weights = {name: t for name, t in tensors.items() if "/" not in name}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = [f"{n}: file {tuple(weights[n].shape)} vs model {tuple(expected[n].shape)}"
             for n in expected if n in weights and weights[n].shape != expected[n].shape]
    if missing or unexpected or wrong:
        details = "; ".join(filter(None, [
            f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}" if missing else "",
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}" if unexpected else "",
            f"shape mismatch {wrong[:3]}{'...' if len(wrong) > 3 else ''}" if wrong else "",
        ]))
        raise CheckpointError(f"{path}: checkpoint of another architecture: {details}")
    model.load_state_dict({n: weights[n].to(expected[n].dtype) for n in expected})


def _model_config(meta: CheckpointMeta, path: Path | str) -> DVAEConfig:
    if meta.kind != MODEL_KIND:
        raise CheckpointError(wrong_kind_message(path, meta.kind, MODEL_KIND))
    try:
        return DVAEConfig.from_saved(meta.config)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: checkpoint of another architecture: its config does not fit ({exc})") from exc


def read_model_config(path: Path | str) -> DVAEConfig:
    """The ``DVAEConfig`` a model file was saved with, without reading its weights
    (``CheckpointError`` if the file is not a usable dVAE model)."""
    return _model_config(read_meta(path), path)


def load_model(path: Path | str, device: str | torch.device = "cpu") -> tuple[DVAE, CheckpointMeta]:
    """Rebuild a ``DVAE`` from the config stored in its checkpoint and load its weights (float32)."""
    tensors, meta = load_checkpoint(path, expect_kind=MODEL_KIND)
    model = DVAE(_model_config(meta, path))
    load_weights_into(model, tensors, path)
    return model.to(device), meta
