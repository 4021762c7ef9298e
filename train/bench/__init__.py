"""Benchmarks: ``python -m train.bench [--only NAME ...] [--quick]``.

Each benchmark module exposes ``run(quick: bool = False)`` returning a list of ``BenchRow``
(or, for older modules, a ``{json_key: value}`` dict). ``__main__`` imports the modules it runs
explicitly, prints a table, and LAST one JSON line of every row that has a ``json_key``.
Timings on the shared 2-core machines are rough: compare them only on the same machine.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BenchRow:
    """One measured figure."""

    name: str                    # what was measured, for the table
    value: float
    unit: str                    # e.g. "img/s", "MiB"
    json_key: str | None = None  # key in the final JSON line (None: table only)


def rows_from_dict(figures: dict[str, float]) -> list[BenchRow]:
    """Rows for a module whose ``run`` returns ``{json_key: value}``."""
    return [BenchRow(name=key, value=float(value), unit="", json_key=key) for key, value in figures.items()]
