"""Train a dVAE from a TOML config: ``python -m train.fit --config configs/tiny.toml``.

The run folder (``--out``, default ``runs/<config name>``) receives:
  config.toml                       the config in use (merged over its base if it extends one)
  losses_<step>.csv                 every named loss term per log window, one file per training step
  tensorboard/                      the same scalars + the sample grids (``tensorboard --logdir``)
  grids/<step>_<n>.png              the sample grid at each evaluation
  checkpoints/<step>/last.safetensors (+ step_NNNNNNN.safetensors every ``keep_every``)
  model.safetensors                 the model for ``core.api.HandModel.load`` (refreshed at each
                                    evaluation, final at the end)
``--resume DIR`` continues the run in DIR exactly where its checkpoints stop. A config's
``[init] weights = PATH`` (or "default", the bundled model) starts from a trained model instead
of a fresh initialisation (fine-tuning).
Several GPUs / nodes: ``torchrun --nproc_per_node=N -m train.fit ...`` (rank 0 writes files).
``FitRun`` is the same run as an object (e.g. for a GUI worker thread: iterate ``steps()``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Sequence

import torch

from core.api import DEFAULT_MODEL_PATH
from core.checkpoint import CheckpointError, load_model, save_model
from core.cli_args import Parser
from core.models import DVAE, DisentangleObjective, EmbeddingObjective
from core.config_io import EXTENDS_KEY, ConfigError, read_toml, to_toml
from train.config import FitConfig, InitConfig, load_fit_config
from train.loop.distributed import DistContext
from train.loop.fit_data import grid_batch, phase_data
from train.loop.hooks import CSVLossLog, Hook, ProgressBar, ProgressLines, SampleGrid, TensorBoardLog
from train.loop.sample_grid import DVAEGrid
from train.loop.schedule import PhasedRun, two_step_phases
from train.loop.trainer import StepReport, Trainer
from train.recipe import RECIPE_FILE, read_run_recipe, start_recipe, write_run_recipe

MODEL_FILE = "model.safetensors"


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when a GPU is visible, else "cpu"."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for, but torch sees no CUDA GPU")
    return device


def init_weights_path(init: InitConfig) -> Path | None:
    """The model file ``[init] weights`` names ("default": the bundled model), None for none."""
    if not init.weights:
        return None
    if init.weights == "default":
        return DEFAULT_MODEL_PATH
    return Path(init.weights)


def load_init_weights(model: DVAE, init: InitConfig) -> str:
    """Copy the ``[init]`` model's weights into ``model`` (float16 files are widened): all of
    them, or with ``init.modules`` only those networks. Returns a line saying what was loaded and
    what starts fresh; a ``ConfigError`` when the file is unusable or does not fit."""
    path = init_weights_path(init)
    if path is None:
        return ""
    try:
        trained, _ = load_model(path)
    except CheckpointError as exc:
        raise ConfigError(f"[init] weights: {exc}") from exc
    if not init.modules:
        if trained.config != model.config:
            differ = sorted(k for k, v in trained.config.to_dict().items() if model.config.to_dict().get(k) != v)
            raise ConfigError(f"[init] weights: {path} is another architecture than [model] (differs in {differ}); "
                              "copy its [model] table into the config, or name the networks to load in "
                              "[init] modules")
        model.load_state_dict(trained.state_dict())
        return f"[init] loaded every network from {path}"
    networks = dict(model.named_children())
    unknown = sorted(set(init.modules) - set(networks))
    if unknown:
        raise ConfigError(f"[init] modules: unknown network(s) {unknown}; the model has {sorted(networks)}")
    trained_networks = dict(trained.named_children())
    for name in init.modules:
        try:
            networks[name].load_state_dict(trained_networks[name].state_dict())
        except RuntimeError as exc:
            raise ConfigError(f"[init] modules: {name} of {path} does not fit [model]: {exc}") from exc
    fresh = sorted(set(networks) - set(init.modules))
    return f"[init] loaded {sorted(init.modules)} from {path}; fresh: {fresh}"


class ExportModel(Hook):
    """At each evaluation, write the model for ``HandModel.load`` (so a stopped run has one)."""

    def __init__(self, run: "FitRun") -> None:
        self.run = run

    def on_eval(self, trainer: Trainer) -> None:
        self.run.export(phase=trainer.phase, phase_step=trainer.step)


class FitRun:
    """A configured two-step dVAE training run writing into ``run_dir``.

    ``progress`` adds a tqdm bar per step, ``progress_lines`` (without ``progress``) plain progress
    lines on stderr (``train.loop.hooks.ProgressLines``). ``steps()`` yields a ``StepReport`` per optimisation
    step (pause by not iterating, cancel by ``close()``: a checkpoint is written).
    """

    def __init__(self, config: FitConfig, run_dir: Path, progress: bool = False,
                 dist_ctx: DistContext | None = None, progress_lines: bool = False, source: str = "") -> None:
        """``source`` names where ``config`` came from (its file, or the app's Train dialog) in the
        recipe the run's models carry (``train.recipe``); a run folder keeps the recipe it started with."""
        self.config, self.run_dir, self.progress = config, Path(run_dir), progress
        self.progress_lines = progress_lines
        self.device_name = resolve_device(config.trainer.device)
        self.dist = dist_ctx if dist_ctx is not None else DistContext.from_env(self.device_name)
        self.device = self.dist.device(self.device_name)
        if self.dist.is_main and not (self.run_dir / RECIPE_FILE).exists():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_run_recipe(self.run_dir, start_recipe(source or "a config built in memory", config,
                                                        init_weights_path(config.init)))
        torch.manual_seed(config.trainer.seed)  # model initialisation (DDP copies rank 0's anyway)
        self.model = DVAE(config.model)
        init_report = load_init_weights(self.model, config.init)
        if init_report and self.dist.is_main:
            print(init_report, file=sys.stderr)
        size = config.model.output_size  # renders at the decoder's size; the encoders resample them
        self.grid = DVAEGrid(grid_batch(config.data, size, config.grid.columns, torch.device("cpu")),
                             tile=config.grid.tile or max(96, size))
        phases = two_step_phases(
            config.schedule, DisentangleObjective(config.disentangle), EmbeddingObjective(config.embed),
            phase_data(config.data, size, 0, self.dist, self.device, supervised_fractions=False),
            phase_data(config.data, size, 1, self.dist, self.device, supervised_fractions=True))
        trainer_config = replace(config.trainer, device=self.device_name)
        self.phased = PhasedRun(self.model, phases, config.optimizer, trainer_config, self.run_dir,
                                make_hooks=self._hooks, extra_meta={"fit_config": config.to_dict()},
                                dist_ctx=self.dist)

    @property
    def model_path(self) -> Path:
        return self.run_dir / MODEL_FILE

    def _hooks(self, phase: str, offset: int) -> list[Hook]:
        tensorboard = TensorBoardLog(self.run_dir / "tensorboard", step_offset=offset)
        hooks: list[Hook] = [CSVLossLog(self.run_dir / f"losses_{phase}.csv"), tensorboard,
                             SampleGrid(self.grid, self.run_dir / "grids", tensorboard), ExportModel(self)]
        # the time left counts every phase: the steps after this one's, at this phase's pace
        this = next(p.steps for p in self.phased.phases if p.name == phase)
        later = self.phased.total_steps - offset - this
        if self.progress:
            hooks.append(ProgressBar(desc=f"{phase} step", later_steps=later))
        elif self.progress_lines:  # logs and CI: a line at the first step, then at least every 30 s
            hooks.append(ProgressLines("train.fit: ", later_steps=later))
        return hooks

    def steps(self) -> Iterator[StepReport]:
        yield from self.phased.steps()

    def export(self, phase: str = "", phase_step: int = 0) -> Path | None:
        """Write ``model.safetensors`` (rank 0 only) with the fit config in its metadata."""
        if not self.dist.is_main:
            return None
        phases = self.phased.phases
        names = [p.name for p in phases]
        earlier = sum(p.steps for p in phases[: names.index(phase)]) if phase in names else 0
        finished = phase == names[-1] and phase_step >= phases[-1].steps
        extra = {"fit_config": self.config.to_dict(), "phase": phase, "phase_step": phase_step,
                 "finished": finished, "recipe": read_run_recipe(self.run_dir)}
        return save_model(self.model_path, self.model, step=earlier + phase_step, extra=extra)

    def run(self) -> Path | None:
        """Train to the end (or resume to the end) and return the exported model's path."""
        for _ in self.steps():
            pass
        last = self.phased.phases[-1]
        return self.export(phase=last.name, phase_step=last.steps)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = Parser(
        prog="python -m train.fit",
        description="Train the disentangled VAE (disentangling step, then embedding step) from a TOML config.",
        epilog="Example: python -m train.fit --config configs/tiny.toml --out runs/tiny")
    parser.add_argument("--config", type=Path, help="TOML config (see configs/); with --resume, "
                        "defaults to the run's own config.toml")
    parser.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR from its checkpoints")
    parser.add_argument("--out", type=Path, metavar="DIR", help="run folder (default runs/<config name>)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override [trainer] device")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar: progress lines (step, loss, samples/s, time left) at least every 30 s instead, for logs")
    args = parser.parse_args(argv)
    if args.config is None and args.resume is None:
        parser.error("give --config FILE (a new run) or --resume DIR (continue a run)")
    if args.resume is not None and args.out is not None and args.out.resolve() != args.resume.resolve():
        parser.error("--resume DIR continues DIR: leave --out out or give the same folder")
    return args


def prepare_run_dir(args: argparse.Namespace) -> tuple[FitConfig, Path]:
    """The config and run folder of the command line; refuses to overwrite another run."""
    if args.resume is not None:
        run_dir = args.resume
        if not (run_dir / "checkpoints").is_dir():
            raise ConfigError(f"{run_dir}: no checkpoints/ folder, nothing to resume")
        config_path = args.config or run_dir / "config.toml"
    else:
        config_path = args.config
        run_dir = args.out or Path("runs") / args.config.stem
        if (run_dir / "checkpoints").exists():
            raise ConfigError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                              "or choose another --out")
    config = load_fit_config(config_path)
    if args.device is not None:
        config.trainer.device = args.device
    run_dir.mkdir(parents=True, exist_ok=True)
    is_main = int(os.environ.get("RANK", "0")) == 0  # under torchrun only rank 0 writes
    if is_main and Path(config_path).resolve() != (run_dir / "config.toml").resolve():
        write_run_config(Path(config_path), run_dir / "config.toml")
    return config, run_dir


def write_run_config(config_path: Path, target: Path) -> None:
    """The run folder's own config: a copy of the config file, or, when that extends a base, its
    tables merged over the base's (so that ``--resume`` needs no other file)."""
    if EXTENDS_KEY not in tomllib.loads(config_path.read_text(encoding="utf-8")):
        shutil.copyfile(config_path, target)
        return
    header = (f"# {config_path} merged over the base it extends, written by train.fit for this run\n"
              "# (the comments are in those files)\n\n")
    target.write_text(header + to_toml(read_toml(config_path)), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config, run_dir = prepare_run_dir(args)
        fit = FitRun(config, run_dir, progress=not args.no_progress, progress_lines=args.no_progress,
                     source=Path(args.config or run_dir / "config.toml").as_posix())
    except (ConfigError, RuntimeError, OSError, ValueError) as exc:
        print(f"train.fit: error: {exc}", file=sys.stderr)
        return 2
    path = fit.run()
    dist_ctx = fit.dist
    del fit  # the DDP-wrapped model goes before the process group (see DistContext.shutdown)
    dist_ctx.shutdown()
    if path is not None:
        print(f"model written to {path} (run folder {run_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
