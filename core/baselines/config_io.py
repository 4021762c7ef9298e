"""Explicit JSON round trips for the baselines' flat dataclass configs (no registries, no eval)."""
from __future__ import annotations

from dataclasses import fields
from typing import Any

from core.models.config import DVAEConfig
from core.models.objectives import LabelLossWeights


def check_keys(cls: type, data: dict[str, Any]) -> None:
    """``ValueError`` naming the keys of ``data`` that ``cls`` does not have."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}.from_dict expects a dict, got {type(data).__name__}")
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown config keys {unknown} (known: {sorted(f.name for f in fields(cls))})")


def flat_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build a dataclass whose fields are floats / ints / bools, plus the nested ``network``
    (``DVAEConfig``) and ``labels`` (``LabelLossWeights``) fields the baselines use."""
    check_keys(cls, data)
    defaults = cls()
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        current = getattr(defaults, name)
        if isinstance(current, DVAEConfig):
            kwargs[name] = DVAEConfig.from_dict(value)
        elif isinstance(current, LabelLossWeights):
            kwargs[name] = LabelLossWeights.from_dict(value)
        elif isinstance(current, bool):
            kwargs[name] = bool(value)
        elif isinstance(current, int):
            kwargs[name] = int(value)
        else:
            kwargs[name] = float(value)
    return cls(**kwargs)


def flat_to_dict(config: Any) -> dict[str, Any]:
    """Inverse of ``flat_from_dict``."""
    out: dict[str, Any] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        out[f.name] = value.to_dict() if hasattr(value, "to_dict") else value
    return out
