"""Run the benchmarks: a table, then one JSON line (last line of the output)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from types import ModuleType

from train.bench import BenchRow, rows_from_dict
from train.bench import decoder as decoder_bench
from train.bench import evaluate as evaluate_bench
from train.bench import model as model_bench
from train.bench import photo_fit as photo_fit_bench
from train.bench import render as render_bench

# Explicit list, in run order: (name for --only, module with run(quick=...)).
MODULES: tuple[tuple[str, ModuleType], ...] = (
    ("render", render_bench),
    ("evaluate", evaluate_bench),
    ("model", model_bench),
    ("decoder", decoder_bench),
    ("photo_fit", photo_fit_bench),
)


def _rows(module: ModuleType, quick: bool) -> list[BenchRow]:
    result = module.run(quick=quick)
    return rows_from_dict(result) if isinstance(result, dict) else list(result)


def main(argv: list[str] | None = None) -> int:
    names = [name for name, _ in MODULES]
    parser = argparse.ArgumentParser(prog="python -m train.bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=names, metavar="NAME",
                        help=f"run only these benchmarks ({', '.join(names)})")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, rough figures)")
    args = parser.parse_args(argv)
    selected = [(name, module) for name, module in MODULES if not args.only or name in args.only]
    rows: list[BenchRow] = []
    for name, module in selected:
        start = time.perf_counter()
        got = _rows(module, args.quick)
        rows += got
        print(f"[{name}: {len(got)} rows in {time.perf_counter() - start:.1f} s]", file=sys.stderr)
    width = max((len(r.name) for r in rows), default=10)
    print(f"{'benchmark':<{width}}  {'value':>12}  unit")
    for row in rows:
        print(f"{row.name:<{width}}  {row.value:>12.3f}  {row.unit}")
    print(json.dumps({row.json_key: round(row.value, 4) for row in rows if row.json_key}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
