"""The training curve of an image decoder: judge ratio, grid and hand L1 against training hours.

``python -m train.evaluate.decoder_curve runs/bundled/09_decoder_128 runs/bundled/10_decoder_128_cycle`` scores every
kept checkpoint (``checkpoints/step_*.safetensors``, written every ``[trainer] keep_every``
steps) and each run's ``model.safetensors`` with ``train.evaluate.synthesis_quality``; runs given in order
are stages of one recipe, so their hours add up. Writes ``curve.csv`` into the last run folder
and prints a markdown table; ``--docs`` also rewrites the curve's section of ``docs/results.md``.
``--earlier CSV`` puts the points of earlier stages, measured before (a ``curve.csv`` kept in
``docs/notebook/``: run folders do not outlive their machine), ahead of the new ones; the new
stages' hours continue from its last point.
"""
from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from core.cli_args import Parser
from core.models import DVAE, DVAEConfig
from train.loop.checkpointing import load_model_state, read_trainer_meta
from train.doc_sections import markers, write_section
from train.evaluate.decoder_ablation import Measure
from train.evaluate.judge import JudgeConfig, load_or_train_judge

START, END = markers("decoder-curve")


@dataclass
class CurvePoint:
    run: str
    step: int
    hours: float           # training wall clock of the recipe up to this checkpoint
    judge_ratio: float
    grid: float             # worst period
    hand_l1: float


def checkpoints(run: Path) -> list[Path]:
    """The run's kept trainer checkpoints (``checkpoints/PHASE/step_*.safetensors``) in step order,
    then each phase's last one."""
    phases = sorted(p for p in (run / "checkpoints").iterdir() if p.is_dir())
    found: list[Path] = []
    for phase in phases:
        found += sorted(phase.glob("step_*.safetensors"))
        if (phase / "last.safetensors").exists():
            found.append(phase / "last.safetensors")
    return found


def model_at(path: Path) -> tuple[DVAE, int, float]:
    """The model of a trainer checkpoint, its step and training seconds."""
    meta = read_trainer_meta(path)
    config = DVAEConfig.from_saved(meta["extra"]["fit_config"]["model"])
    model = DVAE(config)
    model.load_state_dict(load_model_state(path))
    return model.eval(), int(meta["step"]), float(meta["elapsed_s"])


FIELDS = ["run", "step", "hours", "judge_ratio", "grid", "hand_l1"]


def read_curve(path: Path) -> list[CurvePoint]:
    """The points of a ``curve.csv``."""
    with path.open(newline="") as handle:
        return [CurvePoint(r["run"], int(r["step"]), float(r["hours"]), float(r["judge_ratio"]), float(r["grid"]),
                           float(r["hand_l1"])) for r in csv.DictReader(handle)]


def curve(runs: list[Path], measure: Measure, earlier: list[CurvePoint] = ()) -> list[CurvePoint]:
    """``earlier`` points, then every kept checkpoint of ``runs`` scored by ``measure``."""
    points: list[CurvePoint] = list(earlier)
    hours_before = points[-1].hours if points else 0.0
    for run in runs:
        seen: set[int] = set()
        run_hours = 0.0
        for path in checkpoints(run):
            model, step, seconds = model_at(path)
            if step in seen:
                continue
            seen.add(step)
            run_hours = seconds / 3600.0
            scores, _ = measure(run.name, step, model)
            q = scores.quality
            points.append(CurvePoint(run.name, step, hours_before + run_hours, q.ratio, q.worst_grid, q.hand_l1))
            print(f"{run.name} step {step}: {points[-1]}", file=sys.stderr, flush=True)
        hours_before += run_hours
    return points


def table(points: list[CurvePoint]) -> str:
    lines = ["| run | step | training hours | judge ratio | grid (worst period) | hand L1 |", "|---|---|---|---|---|---|"]
    lines += [f"| {p.run} | {p.step:,} | {p.hours:.2f} | {p.judge_ratio:.2f}x | {p.grid:.2f}x | {p.hand_l1:.3f} |"
              for p in points]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m train.evaluate.decoder_curve", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders of train.fit, the recipe's stages in order")
    parser.add_argument("--judge", default="runs/judge/judge_64.safetensors",
                        help="saved judge (the 64 px recipe of train.evaluate.judge --bf16, trained if missing)")
    parser.add_argument("--docs", default="", help="docs folder whose results.md gets the curve's section")
    parser.add_argument("--machine", default="2 CPU cores", help="machine description for the report")
    parser.add_argument("--earlier", type=Path, help="curve.csv of the earlier stages, measured before")
    args = parser.parse_args(argv)
    runs = [Path(r) for r in args.runs]
    missing = [str(r) for r in runs if not (r / "checkpoints").is_dir()]
    if missing:
        parser.error(f"not a train.fit run folder (no checkpoints/): {', '.join(missing)}")
    if args.earlier is not None and not args.earlier.is_file():
        parser.error(f"--earlier {args.earlier}: no such file")
    torch.manual_seed(0)
    judge = load_or_train_judge(Path(args.judge), JudgeConfig(bf16=True))
    points = curve(runs, Measure(judge), read_curve(args.earlier) if args.earlier else [])
    out = runs[-1] / "curve.csv"
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerows([p.run, p.step, f"{p.hours:.4f}", f"{p.judge_ratio:.4f}", f"{p.grid:.4f}", f"{p.hand_l1:.5f}"]
                         for p in points)
    text = table(points)
    print(text)
    if args.docs:
        command = " ".join(["python -m train.evaluate.decoder_curve", *args.runs] +
                           ([f"--earlier {args.earlier}"] if args.earlier else []))
        section = "\n".join([START, "### Training curve of the bundled decoder", "",
                             f"`{command}` ({args.machine}): every kept checkpoint of the recipe's stages, "
                             "measured as in the ablation above; hours are training wall clock, the 2 cores "
                             "shared with other work.", "", text, "", END])
        write_section(Path(args.docs) / "results.md", section, START, END)
    print(f"curve: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
