"""Trainer hooks: loss logs (CSV, TensorBoard), sample grids, console lines.

A hook overrides any of ``on_start``, ``before_step``, ``after_step``, ``on_eval``, ``on_end``.
Hooks with ``main_process_only = True`` (all file writers here) run on rank 0 only. Files are
reopened per write so a paused, cancelled or resumed run never holds a stale handle; on resume
``on_start`` drops log rows past the checkpoint's step so the logs match the weights.
"""
from __future__ import annotations

import csv
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import cv2
import numpy as np
from torch import nn

if TYPE_CHECKING:
    from train.loop.trainer import StepReport, Trainer


class Hook:
    """Base class: every callback is a no-op."""

    main_process_only = True

    def on_start(self, trainer: "Trainer") -> None:
        """Called when ``trainer.steps()`` starts (fresh or resumed; ``trainer.step`` is set)."""

    def before_step(self, trainer: "Trainer") -> None:
        """Called before each optimisation step."""

    def after_step(self, trainer: "Trainer", report: "StepReport") -> None:
        """Called after each step; ``report.logged`` marks steps with fresh loss means."""

    def on_eval(self, trainer: "Trainer") -> None:
        """Called every ``eval_every`` steps and at the end, model in eval mode, no grad."""

    def on_end(self, trainer: "Trainer") -> None:
        """Called when ``steps()`` finishes, is cancelled, or fails."""


class CSVLossLog(Hook):
    """One CSV row per log window: step, elapsed_s, samples_per_s, then every loss term.

    Columns are fixed by the first row written; a term that appears later rewrites the file
    with the wider header (earlier rows get empty cells).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def on_start(self, trainer: "Trainer") -> None:
        rows = self._read_rows()
        kept = [row for row in rows if int(row["step"]) <= trainer.step]
        if len(kept) != len(rows):
            self._write_rows(list(rows[0].keys()), kept)

    def after_step(self, trainer: "Trainer", report: "StepReport") -> None:
        if not report.logged:
            return
        row = {"step": report.step, "elapsed_s": f"{report.elapsed_s:.3f}",
               "samples_per_s": f"{report.samples_per_s:.2f}", **{k: f"{v:.6g}" for k, v in report.losses.items()}}
        header = self._header()
        if header is None:
            self._write_rows(list(row), [row])
        elif set(row) <= set(header):
            with open(self.path, "a", newline="") as f:
                csv.DictWriter(f, fieldnames=header).writerow(row)
        else:
            self._write_rows(header + [k for k in row if k not in header], self._read_rows() + [row])

    def _header(self) -> list[str] | None:
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return None
        with open(self.path, newline="") as f:
            return next(csv.reader(f))

    def _read_rows(self) -> list[dict[str, Any]]:
        if self._header() is None:
            return []
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def _write_rows(self, header: list[str], rows: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header, restval="")
            writer.writeheader()
            writer.writerows(rows)


class TensorBoardLog(Hook):
    """Scalars ``<phase>/<term>`` and ``<phase>/samples_per_s`` per log window.

    The global step is ``step_offset + trainer.step`` so that phases follow each other on one
    axis. On resume, events past the checkpoint are purged.
    """

    def __init__(self, log_dir: Path | str, step_offset: int = 0) -> None:
        self.log_dir, self.step_offset = Path(log_dir), step_offset
        self._writer: Any = None

    def on_start(self, trainer: "Trainer") -> None:
        from torch.utils.tensorboard import SummaryWriter  # slow import: only when logging

        self._writer = SummaryWriter(str(self.log_dir), purge_step=self.step_offset + trainer.step + 1)

    def after_step(self, trainer: "Trainer", report: "StepReport") -> None:
        if not report.logged or self._writer is None:
            return
        step = self.step_offset + report.step
        for name, value in report.losses.items():
            self._writer.add_scalar(f"{report.phase}/{name}", value, step)
        if math.isfinite(report.samples_per_s):
            self._writer.add_scalar(f"{report.phase}/samples_per_s", report.samples_per_s, step)

    def add_image(self, tag: str, image_bgr: np.ndarray, step: int) -> None:
        """Log an (H, W, 3) uint8 BGR image (used by ``SampleGrid``)."""
        if self._writer is not None:
            self._writer.add_image(tag, image_bgr[:, :, ::-1].copy(), self.step_offset + step, dataformats="HWC")

    def on_end(self, trainer: "Trainer") -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


GridRenderer = Callable[[nn.Module], np.ndarray]


class SampleGrid(Hook):
    """At each evaluation, write ``render(model)`` -> (H, W, 3) uint8 BGR as a PNG.

    ``render`` decides the content (reconstructions, pose overlays, latent walks for the dVAE:
    see ``train.loop.sample_grid``); it is called with the model in eval mode under ``torch.no_grad``.
    Files: ``<out_dir>/<phase>_<step:07d>.png``; ``tensorboard`` also receives the image.
    """

    def __init__(self, render: GridRenderer, out_dir: Path | str, tensorboard: TensorBoardLog | None = None) -> None:
        self.render, self.out_dir, self.tensorboard = render, Path(out_dir), tensorboard
        self.written: list[Path] = []

    def on_eval(self, trainer: "Trainer") -> None:
        image = self.render(trainer.model)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"grid renderer must return (H, W, 3) uint8, got {image.dtype} {image.shape}")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"{trainer.phase}_{trainer.step:07d}.png"
        if not cv2.imwrite(str(path), image):
            raise OSError(f"could not write the sample grid {path}")
        self.written.append(path)
        if self.tensorboard is not None:
            self.tensorboard.add_image(f"{trainer.phase}/samples", image, trainer.step)


@dataclass(frozen=True)
class Progress:
    """What a progress display shows after a step: loss terms, samples/s, and the time left in this
    phase and in the whole run (the phases after this one at this phase's pace, steps/s)."""

    losses: dict[str, float]
    samples_per_s: float
    phase_left_s: float
    run_left_s: float


def progress_of(trainer: "Trainer", report: "StepReport", later_steps: int = 0) -> Progress:
    """``report``'s figures, from the first step on: before the first log window closes (``log_every``
    steps, minutes on a CPU) the loss and rate of the steps so far, and the time left from the phase's
    mean time per step; ``later_steps``: the steps of the phases still to come."""
    losses, rate = report.losses, report.samples_per_s
    if not losses or not math.isfinite(rate):
        losses, rate = trainer.window_so_far()
    remaining = report.max_steps - report.step
    per_step = report.eta_s / remaining if remaining > 0 and math.isfinite(report.eta_s) else math.nan
    if not math.isfinite(per_step) and report.step > 0:
        per_step = report.elapsed_s / report.step  # the phase's mean so far (resumed runs included)
    phase_left = remaining * per_step
    return Progress(losses, rate, phase_left, phase_left + later_steps * per_step)


def format_duration(seconds: float) -> str:
    """``1:02:03`` / ``2:03`` for a finite duration, ``-`` otherwise."""
    if not math.isfinite(seconds):
        return "-"
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class ProgressBar(Hook):
    """A tqdm bar over the phase's steps with the latest loss terms, samples/s and the time left in
    the whole run, from the first step (``progress_of``); tqdm itself shows the phase's time left."""

    def __init__(self, desc: str | None = None, terms: tuple[str, ...] = ("total",), later_steps: int = 0) -> None:
        self.desc, self.terms, self.later_steps = desc, terms, later_steps
        self._bar: Any = None

    def on_start(self, trainer: "Trainer") -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=trainer.config.max_steps, initial=trainer.step, desc=self.desc or trainer.phase,
                         dynamic_ncols=True)

    def after_step(self, trainer: "Trainer", report: "StepReport") -> None:
        if self._bar is None:
            return
        progress = progress_of(trainer, report, self.later_steps)
        shown = {k: f"{progress.losses[k]:.4g}" for k in self.terms if k in progress.losses}
        if math.isfinite(progress.samples_per_s):
            shown["samples/s"] = f"{progress.samples_per_s:.1f}"
        shown["run left"] = format_duration(progress.run_left_s)
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(report.step - self._bar.n)

    def on_end(self, trainer: "Trainer") -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def format_progress(report: "StepReport", prefix: str = "", terms: tuple[str, ...] = ("total",),
                    progress: Progress | None = None) -> str:
    """One progress line: ``prefix phase step k/n | total 0.1234 | 13.6 samples/s | 12:34 left``,
    and ``(1:02:03 in all)`` when ``progress`` covers later phases too."""
    progress = progress or Progress(report.losses, report.samples_per_s, report.eta_s, report.eta_s)
    parts = [f"{prefix}{report.phase} step {report.step}/{report.max_steps}"]
    shown = [f"{k} {progress.losses[k]:.4g}" for k in terms if k in progress.losses]
    parts.append(" ".join(shown) if shown else "loss -")
    rate = progress.samples_per_s
    parts.append(f"{rate:.1f} samples/s" if math.isfinite(rate) and rate > 0 else "- samples/s")
    left = progress.phase_left_s
    if math.isfinite(left):
        run = progress.run_left_s
        parts.append(f"{format_duration(left)} left" +
                     (f" ({format_duration(run)} in all)" if math.isfinite(run) and run > left else ""))
    else:
        parts.append("time left -")
    return " | ".join(parts)


class ProgressLines(Hook):
    """Plain progress lines (for logs and CI, where a tqdm bar is off): one at the first step, then
    one whenever ``interval_s`` has passed since the last (checked after each step), and one at
    the phase's last step, each with the figures of ``progress_of``. ``clock`` returns seconds
    (tests pass a fake one); ``later_steps``: the steps of the phases still to come."""

    def __init__(self, prefix: str = "", interval_s: float = 30.0, write: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, terms: tuple[str, ...] = ("total",),
                 later_steps: int = 0) -> None:
        self.prefix, self.interval_s, self.clock, self.terms = prefix, interval_s, clock, terms
        self.later_steps = later_steps
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self._last: float | None = None

    def on_start(self, trainer: "Trainer") -> None:
        self._last = None

    def after_step(self, trainer: "Trainer", report: "StepReport") -> None:
        now = self.clock()
        due = self._last is None or now - self._last >= self.interval_s or report.step >= report.max_steps
        if due:
            self._last = now
            progress = progress_of(trainer, report, self.later_steps)
            self.write(format_progress(report, self.prefix, self.terms, progress))
