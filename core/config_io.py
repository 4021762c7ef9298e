"""The one reader from JSON / TOML tables (plain dicts) to the typed config dataclasses.

Every config is read by its field annotations (int, float, bool, str, tuples, lists, optionals
and nested dataclasses); an unknown key is an error naming it and the keys that exist; a missing
key keeps the dataclass default. Two strictness levels, both kept as they were:

- ``from_dict(cls, data)``: the ``to_dict``/``from_dict`` round trip of the core configs
  (checkpoint metadata, ``[model]``, ``[disentangle]`` and ``[embed]`` tables). Values are
  converted with ``int(...)``, ``float(...)``, ``bool(...)``, ``str(...)``; a nested
  dataclass with its own ``from_dict`` is read by it; a missing field without a default is a
  ``KeyError``; errors name the class.
- ``from_table(cls, table, where)``: the train-side TOML tables. Values must already have the
  field's type (an int is accepted for a float); every error is a ``ConfigError`` naming
  ``where`` ("configs/x.toml [data]") and the key.

``to_table(config)`` is the inverse of both: a dataclass as a plain JSON-compatible dict.
``DictConfig`` gives a config dataclass the ``to_dict`` / ``from_dict`` pair of the round trip.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Self, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file does not fit its dataclasses; the message names the file, table and key."""


class DictConfig:
    """Base of the config dataclasses that round-trip through JSON: ``to_dict`` is ``to_table``
    and ``from_dict`` is this module's ``from_dict``."""

    def to_dict(self) -> dict[str, Any]:
        return to_table(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return from_dict(cls, data)


# -- from_dict: the lenient round trip of the core configs ------------------------------------
def from_dict(cls: type[T], data: Any) -> T:
    """Build the dataclass ``cls`` from a dict written by ``to_table`` (see the module docstring)."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}.from_dict expects a dict, got {type(data).__name__}")
    fields = dataclasses.fields(cls)
    known = sorted(f.name for f in fields)
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown config keys {unknown} (known: {known})")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in fields:
        if f.name in data:
            kwargs[f.name] = _coerce(hints[f.name], data[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise KeyError(f.name)
    return cls(**kwargs)


def _coerce(kind: Any, value: Any) -> Any:
    """Convert one JSON value to the annotated type ``kind`` (``from_dict``'s rules)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _coerce(next(a for a in args if a is not type(None)), value)
    if dataclasses.is_dataclass(kind):
        own = getattr(kind, "from_dict", None)
        return own(value) if own is not None else from_dict(kind, value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v) for v in value)
        return tuple(_coerce(a, v) for a, v in zip(args, value, strict=True))
    if origin is list:
        return [_coerce(args[0], v) for v in value]
    if kind in (int, float, bool, str):
        return kind(value)
    if kind is Any:
        return value
    raise TypeError(f"cannot read a value of type {kind!r} from a config dict")


# -- from_table: the strict train-side TOML tables ----------------------------------------------
def from_table(cls: type[T], table: Any, where: str) -> T:
    """Build the dataclass ``cls`` from the TOML table ``table`` (see the module docstring)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {type(table).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(table) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known keys: {names}")
    kwargs = {name: convert(hints[name], table[name], _child(where, name)) for name in names if name in table}
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _child(where: str, name: str) -> str:
    """"f.toml [data]" + "synthetic" -> "f.toml [data.synthetic]"; keys of a table read as
    "f.toml [data] batch_size" once converted (see ``convert``)."""
    return f"{where[:-1]}.{name}]" if where.endswith("]") else f"{where}.{name}"


def _key(where: str) -> str:
    """"f.toml [data.batch_size]" -> "f.toml [data] batch_size" for messages about a value."""
    if not where.endswith("]") or "." not in where[where.rfind("["):]:
        return where
    table, _, key = where[:-1].rpartition(".")
    return f"{table}] {key}"


def convert(kind: Any, value: Any, where: str) -> Any:
    """Check/convert one TOML value to the annotated type ``kind`` (``from_table``'s rules)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return convert(option, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} fits none of {args}")
    if dataclasses.is_dataclass(kind):
        return from_table(kind, value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{_key(where)}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(args[0], v, f"{_key(where)}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{_key(where)}: expected {len(args)} values, got {len(value)}")
        return tuple(convert(a, v, f"{_key(where)}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{_key(where)}: expected a list, got {value!r}")
        return [convert(args[0], v, f"{_key(where)}[{i}]") for i, v in enumerate(value)]
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{_key(where)}: expected a number, got {value!r}")
        return float(value)
    if kind in (int, bool, str):
        if type(value) is not kind:
            raise ConfigError(f"{_key(where)}: expected {kind.__name__}, got {value!r}")
        return value
    if kind is Any:
        return value
    raise ConfigError(f"{_key(where)}: cannot read a value of type {kind!r} from TOML")


# -- writing ------------------------------------------------------------------------------------
def to_table(config: Any) -> dict[str, Any]:
    """A dataclass as a plain dict (tuples -> lists), e.g. to store in a checkpoint's JSON."""
    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(config)
