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

``read_toml(path)`` reads a TOML file whose top-level ``extends = "base.toml"`` (a path relative
to the file) names a base file: the file's tables are merged over the base's. ``to_toml(data)``
writes such a dict back as TOML text (e.g. a merged config that stands on its own).

``to_table(config)`` is the inverse of both: a dataclass as a plain JSON-compatible dict.
``DictConfig`` gives a config dataclass the ``to_dict`` / ``from_dict`` pair of the round trip.

Saved configs carry a version once a default of theirs has changed: a ``DictConfig`` with
``CONFIG_VERSION`` above 1 is written with ``"config_version"``, and its ``PREVIOUS_DEFAULTS[v]``
are the defaults of version ``v`` that a later version changed. A dict that gives its version gets,
for each key it lacks, the default of that version. ``from_saved`` reads what a file holds
(checkpoints): there a dict without ``"config_version"`` was written before versions existed and is
version 1, so an old checkpoint builds the model it was saved with. ``from_dict`` reads a dict
without a version (a TOML table, a dict written by hand) with today's defaults.
"""
from __future__ import annotations

import dataclasses
import json
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

T = TypeVar("T")

VERSION_KEY = "config_version"


class ConfigError(ValueError):
    """A config file does not fit its dataclasses; the message names the file, table and key."""


class DictConfig:
    """Base of the config dataclasses that round-trip through JSON: ``to_dict`` is ``to_table``,
    ``from_dict`` and ``from_saved`` are this module's (see the module docstring for versions)."""

    # Raise CONFIG_VERSION when a default changes, and keep the defaults it replaced in
    # PREVIOUS_DEFAULTS[old version] (only the changed keys).
    CONFIG_VERSION: ClassVar[int] = 1
    PREVIOUS_DEFAULTS: ClassVar[dict[int, dict[str, Any]]] = {}

    def to_dict(self) -> dict[str, Any]:
        return to_table(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return from_dict(cls, data)

    @classmethod
    def from_saved(cls, data: dict[str, Any]) -> Self:
        return from_saved(cls, data)


# -- from_dict: the lenient round trip of the core configs ------------------------------------
def from_saved(cls: type[T], data: Any) -> T:
    """Build ``cls`` from a dict read from a file: one without a version is version 1."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}.from_saved expects a dict, got {type(data).__name__}")
    return from_dict(cls, upgrade(cls, data, unversioned=1))


def upgrade(cls: type, data: dict[str, Any], unversioned: int | None = None) -> dict[str, Any]:
    """``data`` (a dict of the dataclass ``cls``, nested dicts included) at today's version: each
    key an older version lacks gets that version's default; the version keys are removed. A dict
    without a version is version ``unversioned`` (None: today's)."""
    data = dict(data)
    current = getattr(cls, "CONFIG_VERSION", 1)
    version = data.pop(VERSION_KEY, current if unversioned is None else unversioned)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{cls.__name__}: {VERSION_KEY} must be an integer >= 1, got {version!r}")
    if version > current:
        raise ValueError(f"{cls.__name__}: {VERSION_KEY} {version} is newer than this program reads ({current})")
    previous = getattr(cls, "PREVIOUS_DEFAULTS", {})
    for old in range(version, current):
        for key, value in previous.get(old, {}).items():
            data.setdefault(key, value)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = _dataclass_type(hints[f.name])
        if kind is None:
            continue
        if isinstance(data.get(f.name), dict):
            data[f.name] = upgrade(kind, data[f.name], unversioned)
        elif f.name not in data and unversioned is not None:
            nested = upgrade(kind, {}, unversioned)  # written before the field existed
            if nested:
                data[f.name] = nested
    return data


def _dataclass_type(kind: Any) -> type | None:
    """The dataclass a field holds (``X`` or ``X | None``), else None."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        kind = options[0] if len(options) == 1 else None
    return kind if isinstance(kind, type) and dataclasses.is_dataclass(kind) else None


def from_dict(cls: type[T], data: Any) -> T:
    """Build the dataclass ``cls`` from a dict written by ``to_table`` or by hand (see the module
    docstring)."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}.from_dict expects a dict, got {type(data).__name__}")
    data = upgrade(cls, data)
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


# -- TOML files that extend a base -----------------------------------------------------------------
EXTENDS_KEY = "extends"


def read_toml(path: Path | str) -> dict[str, Any]:
    """The TOML file at ``path`` as a dict, merged over the file its ``extends`` key names (a
    path relative to ``path``; bases may extend further bases). Merging: tables merge key by key,
    recursively; any other value of the file (lists included) replaces the base's. Errors
    (``ConfigError``) name the file: missing, not TOML, a base that is missing or extends in a
    circle."""
    return _read_toml(Path(path), ())


def _read_toml(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    if EXTENDS_KEY not in data:
        return data
    base_name = data.pop(EXTENDS_KEY)
    if not isinstance(base_name, str) or not base_name:
        raise ConfigError(f"{path}: '{EXTENDS_KEY}' must be a file name, got {base_name!r}")
    base = path.parent / base_name
    chain = (*chain, path.resolve())
    if base.resolve() in chain:
        circle = " -> ".join(str(p) for p in (*chain, base.resolve()))
        raise ConfigError(f"{path}: extends {base_name!r}, which extends back to it ({circle})")
    if not base.is_file():
        raise ConfigError(f"{path}: extends {base_name!r}, but {base} is not a file")
    return merge_tables(_read_toml(base, chain), data)


def merge_tables(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``: tables present in both are merged (recursively), every other key of
    ``top`` replaces the base's value. Neither argument is changed."""
    merged = dict(base)
    for key, value in top.items():
        both_tables = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = merge_tables(merged[key], value) if both_tables else value
    return merged


def to_toml(data: dict[str, Any]) -> str:
    """A dict of TOML values (what ``tomllib`` / ``read_toml`` return) as TOML text: top-level
    values first, then one ``[table]`` per nested dict; ``tomllib.loads`` gives ``data`` back."""
    lines: list[str] = []

    def key(name: str) -> str:
        return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name, ensure_ascii=False)

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(item) for item in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{key(k)} = {value(item)}" for k, item in v.items()) + "}"
        raise TypeError(f"cannot write a {type(v).__name__} as TOML")

    def table(d: dict[str, Any], path: tuple[str, ...]) -> None:
        values = [(k, v) for k, v in d.items() if not isinstance(v, dict)]
        tables = [(k, v) for k, v in d.items() if isinstance(v, dict)]
        if path and (values or not tables):
            lines.append(f"[{'.'.join(key(p) for p in path)}]")
        lines.extend(f"{key(k)} = {value(v)}" for k, v in values)
        if values or (path and not tables):
            lines.append("")
        for k, v in tables:
            table(v, (*path, k))

    table(data, ())
    return "\n".join(lines)


# -- writing ------------------------------------------------------------------------------------
def to_table(config: Any) -> dict[str, Any]:
    """A dataclass as a plain dict (tuples -> lists), e.g. to store in a checkpoint's JSON; a
    config whose defaults have changed also gives its version (``"config_version"``)."""
    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            out = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
            if getattr(value, "CONFIG_VERSION", 1) > 1:
                out[VERSION_KEY] = value.CONFIG_VERSION
            return out
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(config)
