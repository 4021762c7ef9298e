"""Training from the GUI: a request -> ``train.fit`` config, and a worker thread that runs it.

``TrainingController`` iterates ``FitRun.steps()`` on its own QThread (so the window stays
live), keeps every ``StepReport`` for the loss plot, pauses by not iterating, cancels by closing
the generator (the trainer then writes a checkpoint) and exports ``model.safetensors`` at the
end or on cancel, which the window can switch to. Results reach the GUI thread through a queue
and a no-argument signal (see ``app.runner`` on why not signal arguments). Each training writes
into a fresh, timestamped folder under the request's ``run_dir``; only a request with
``resume=True`` continues an existing run.
"""
from __future__ import annotations

import itertools
import math
import queue
import threading
import traceback
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from PySide6.QtCore import QObject, QThread, Signal

from app.events import Signal as PlainSignal

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
BASE_CONFIGS = {"tiny (64 px, minutes on a CPU)": "tiny.toml",
                "small (64 px, plain decoder: the bundled model's first stage, hours on a CPU)": "bundled/01_plain.toml",
                "default (128 px, needs a GPU)": "default.toml"}
DATA_KINDS = ("synthetic", "dataset", "photos")
STEP_CHOICES = ("both", "disentangle", "embed")


@dataclass
class TrainingRequest:
    """What the Train dialog asks for.

    data: "synthetic" (rendered on the fly), "dataset" (``dataset_format:dataset_dir``) or
    "photos" (synthetic labelled samples plus the unlabelled photos of ``photos_dir``,
    semi-supervised). The run lasts ``epochs`` passes over ``samples`` samples per training
    step, or exactly ``steps`` optimisation steps per training step when ``steps`` > 0.
    ``run_dir``: the folder that receives a new ``YYYYmmdd-HHMMSS`` run folder per training; with
    ``resume`` it is a run folder itself, continued from its checkpoints. ``init_weights``: a model
    file to start from (fine-tuning); its architecture replaces the base config's ``[model]``, the
    base config still gives the optimiser, loss weights and data settings.
    """

    base_config: str = "tiny.toml"
    data: str = "synthetic"
    samples: int = 64
    dataset_format: str = "rhd"
    dataset_dir: str = ""
    photos_dir: str = ""
    step: str = "both"
    epochs: int = 1
    steps: int = 0
    device: str = "auto"
    run_dir: str = "runs/gui"
    resume: bool = False
    init_weights: str = ""


def build_fit_config(request: TrainingRequest) -> Any:
    """The ``train.config.FitConfig`` of a request (raises ``ValueError``/``ConfigError`` naming the problem)."""
    from train.config import InitConfig, load_fit_config

    config = load_fit_config(CONFIG_DIR / request.base_config)
    if request.init_weights:
        config = replace(config, model=_model_config_of(Path(request.init_weights)),
                         init=InitConfig(weights=request.init_weights))
    data = config.data
    if request.data == "dataset":
        if not request.dataset_dir:
            raise ValueError("choose the dataset folder")
        data = replace(data, source=f"{request.dataset_format}:{request.dataset_dir}")
    elif request.data == "photos":
        if not request.photos_dir or not Path(request.photos_dir).is_dir():
            raise ValueError(f"the photo folder {request.photos_dir!r} does not exist")
        data = replace(data, source="synthetic", unlabelled_dir=request.photos_dir,
                       labelled_fraction=min(data.labelled_fraction, 0.75), weak_fraction=0.0)
    elif request.data != "synthetic":
        raise ValueError(f"data must be one of {DATA_KINDS}, got {request.data!r}")
    steps = request.steps if request.steps > 0 else max(1, math.ceil(request.epochs * request.samples / data.batch_size))
    schedule = replace(config.schedule,
                       disentangle_steps=steps if request.step in ("both", "disentangle") else 0,
                       embed_steps=steps if request.step in ("both", "embed") else 0)
    trainer = replace(config.trainer, device=request.device,
                      eval_every=max(1, min(config.trainer.eval_every, steps // 2 or 1)),
                      checkpoint_every=max(1, min(config.trainer.checkpoint_every, steps)),
                      log_every=max(1, min(config.trainer.log_every, steps)))
    return replace(config, data=data, schedule=schedule, trainer=trainer)


def _model_config_of(path: Path) -> Any:
    """The ``DVAEConfig`` stored in a model file (``ValueError`` naming the file if unusable)."""
    from core.checkpoint import CheckpointError, read_model_config

    try:
        return read_model_config(path)
    except CheckpointError as err:
        raise ValueError(f"cannot fine-tune {path}: {err}") from err


class Run(Protocol):
    """What the controller needs of a run (``train.fit.FitRun`` has it)."""

    run_dir: Path

    def steps(self) -> Iterator[Any]: ...

    def export(self, phase: str = "", phase_step: int = 0) -> Path | None: ...


def new_run_dir(parent: Path, now: datetime | None = None) -> Path:
    """Create and return ``parent/YYYYmmdd-HHMMSS`` (``...-2``, ``-3``, ... if that exists).

    A fixed folder would hold the previous run's checkpoints, and ``FitRun`` resumes from them:
    a finished run would "train" nothing.
    """
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    for n in itertools.count(1):
        folder = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def run_dir_for(request: TrainingRequest) -> Path:
    """The folder a request trains in: a new one, or with ``resume`` the run to continue."""
    folder = Path(request.run_dir)
    if not request.resume:
        return new_run_dir(folder)
    if not (folder / "checkpoints").is_dir():
        raise ValueError(f"{folder}: no checkpoints/ folder, nothing to resume")
    return folder


def make_fit_run(request: TrainingRequest) -> Run:
    from train.fit import FitRun

    return FitRun(build_fit_config(request), run_dir_for(request),
                  source=f"the app's Train dialog, base configs/{request.base_config}")


class _Worker(QThread):
    def __init__(self, controller: "TrainingController") -> None:
        super().__init__()
        self.c = controller

    def run(self) -> None:
        c = self.c
        last = None
        try:
            run = c._make_run(c.request)
            c._post("started", run.run_dir)
            steps = run.steps()
            for report in steps:
                last = report
                c._post("report", report)
                with c._cond:
                    while c._paused and not c._cancel:
                        c._cond.wait()
                    cancel = c._cancel
                if cancel:
                    steps.close()  # the trainer writes a checkpoint of the last step
                    break
            else:
                cancel = False
            path = run.export(last.phase, last.step) if last is not None else None
            c._post("cancelled" if cancel else "finished", path)
        except Exception as err:  # shown to the user; the app carries on
            traceback.print_exc()
            c._post("failed", f"{type(err).__name__}: {err}")


class TrainingController(QObject):
    """One training run at a time; ``changed`` (plain signal) after every event, on the GUI thread.

    state: "idle", "running", "paused", "finished", "cancelled" or "failed".
    """

    _wake = Signal()

    def __init__(self, make_run: Callable[[TrainingRequest], Run] = make_fit_run) -> None:
        super().__init__()
        self._make_run = make_run
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._paused = self._cancel = False
        self._worker: _Worker | None = None
        self._wake.connect(self._drain)
        self.request: TrainingRequest | None = None
        self.state = "idle"
        self.reports: list[Any] = []
        self.run_dir: Path | None = None
        self.model_path: Path | None = None
        self.error = ""
        self.changed = PlainSignal()

    def start(self, request: TrainingRequest) -> None:
        if self.is_running():
            raise RuntimeError("a training run is already going")
        self.request, self.reports, self.model_path, self.error = request, [], None, ""
        self._paused = self._cancel = False
        self.state = "running"
        self._worker = _Worker(self)
        self._worker.start()
        self.changed.emit()

    def is_running(self) -> bool:
        return self.state in ("running", "paused")

    def pause(self) -> None:
        with self._cond:
            self._paused = True
        if self.state == "running":
            self.state = "paused"
            self.changed.emit()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()
        if self.state == "paused":
            self.state = "running"
            self.changed.emit()

    def cancel(self) -> None:
        with self._cond:
            self._cancel = True
            self._cond.notify_all()

    def stop_and_wait(self, timeout_ms: int = 120_000) -> None:
        """Cancel (a checkpoint is kept) and wait for the worker to finish."""
        self.cancel()
        if self._worker is not None:
            self._worker.wait(timeout_ms)
        self._drain()

    def _post(self, kind: str, payload: Any) -> None:
        self._events.put((kind, payload))
        self._wake.emit()

    def _drain(self) -> None:
        while True:
            try:
                kind, payload = self._events.get_nowait()
            except queue.Empty:
                return
            if kind == "started":
                self.run_dir = Path(payload)
            elif kind == "report":
                self.reports.append(payload)
            elif kind in ("finished", "cancelled"):
                self.state, self.model_path = kind, payload
            elif kind == "failed":
                self.state, self.error = "failed", payload
            self.changed.emit()

    def total_steps(self) -> int:
        """Optimisation steps over all phases of the current request."""
        if self.request is None:
            return 0
        from core.config_io import ConfigError

        try:
            schedule = build_fit_config(self.request).schedule
        except (ConfigError, ValueError, OSError):
            return 0
        return schedule.disentangle_steps + schedule.embed_steps

    def eta_s(self) -> float:
        """Seconds left over all phases, from the mean time per step so far (nan before a step)."""
        done = len(self.reports)
        if done == 0:
            return math.nan
        elapsed, previous = 0.0, None
        for report in self.reports:  # elapsed_s restarts with each phase
            if previous is not None and report.phase != previous.phase:
                elapsed += previous.elapsed_s
            previous = report
        elapsed += previous.elapsed_s
        return max(self.total_steps() - done, 0) * elapsed / done

    def latest_preview(self) -> Path | None:
        """The newest sample grid the run wrote (``grids/*.png``), if any."""
        if self.run_dir is None or not (self.run_dir / "grids").is_dir():
            return None
        grids = sorted((self.run_dir / "grids").glob("*.png"), key=lambda p: p.stat().st_mtime)
        return grids[-1] if grids else None
