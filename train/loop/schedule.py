"""Training in phases over one model: the dVAE's disentangling step, then its embedding step.

Each phase has its own objective, data, step count and the parameters it trains (optimizer
groups, e.g. ``DisentangleObjective.param_groups``); parameters outside them are frozen
(``requires_grad=False``) for the phase. Each phase runs in its own ``Trainer`` with its own
checkpoint ``<run_dir>/checkpoints/<phase>/last.safetensors``; a phase starts from the weights
the previous one ended with. ``PhasedRun.steps()`` yields the phases' ``StepReport``s in order,
and resumes from the checkpoints it finds: finished phases are skipped (their final weights are
loaded), an interrupted phase continues exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from torch import nn

from train.loop.checkpointing import load_model_state, read_trainer_meta
from train.loop.distributed import DistContext
from train.loop.hooks import Hook
from train.loop.optim import OptimizerConfig, build_lr_schedule, build_optimizer
from train.loop.trainer import Objective, StepReport, Trainer, TrainerConfig, TrainerParts

DISENTANGLE, EMBED = "disentangle", "embed"


@dataclass
class ScheduleConfig:
    """Step counts of the two training steps (optimisation steps; samples = steps x batch)."""

    disentangle_steps: int = 2000
    embed_steps: int = 2000

    def __post_init__(self) -> None:
        if self.disentangle_steps < 0 or self.embed_steps < 0 or self.disentangle_steps + self.embed_steps == 0:
            raise ValueError(f"ScheduleConfig: step counts must be >= 0 and not both 0, got "
                             f"{self.disentangle_steps} and {self.embed_steps}")


@dataclass
class Phase:
    """One training phase. ``make_data`` is called when the phase starts (no idle loaders)."""

    name: str
    steps: int
    objective: Objective
    make_data: Callable[[], Iterator[Any]]
    param_groups: Callable[[nn.Module, float], list[dict]]  # (model, base lr) -> optimizer groups


def two_step_phases(schedule: ScheduleConfig, disentangle: Any, embed: Any,
                    disentangle_data: Callable[[], Iterator[Any]],
                    embed_data: Callable[[], Iterator[Any]]) -> list[Phase]:
    """The paper's schedule: ``disentangle`` then ``embed`` objectives (each with a
    ``param_groups(model, base_lr)`` method); a phase with 0 steps is left out."""
    phases = [Phase(DISENTANGLE, schedule.disentangle_steps, disentangle, disentangle_data, disentangle.param_groups),
              Phase(EMBED, schedule.embed_steps, embed, embed_data, embed.param_groups)]
    return [p for p in phases if p.steps > 0]


def freeze_all_but(model: nn.Module, groups: list[dict]) -> None:
    """``requires_grad`` True exactly for the parameters in ``groups`` (DDP and autograd skip the rest)."""
    trained = {id(p) for group in groups for p in group["params"]}
    for param in model.parameters():
        param.requires_grad_(id(param) in trained)


HookFactory = Callable[[str, int], list[Hook]]  # (phase name, steps of earlier phases) -> hooks


class PhasedRun:
    """Runs ``phases`` in order on ``model``; see the module docstring.

    ``run_dir`` None writes no checkpoints (and cannot resume). ``make_hooks`` builds each
    phase's hooks (rank 0 filtering is the trainer's). ``trainer_config.max_steps`` and
    ``checkpoint_dir`` are set per phase.
    """

    def __init__(self, model: nn.Module, phases: list[Phase], optimizer: OptimizerConfig,
                 trainer_config: TrainerConfig, run_dir: Path | None = None,
                 make_hooks: HookFactory | None = None, extra_meta: dict[str, Any] | None = None,
                 dist_ctx: DistContext | None = None) -> None:
        names = [p.name for p in phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phase names must be unique, got {names}")
        self.model, self.phases, self.optimizer_config = model, phases, optimizer
        self.trainer_config, self.run_dir = trainer_config, Path(run_dir) if run_dir else None
        self.make_hooks = make_hooks or (lambda name, offset: [])
        self.extra_meta = extra_meta or {}
        self.dist = dist_ctx if dist_ctx is not None else DistContext.from_env(trainer_config.device)
        self.trainer: Trainer | None = None  # the current phase's trainer

    @property
    def total_steps(self) -> int:
        return sum(p.steps for p in self.phases)

    def checkpoint_path(self, phase: str) -> Path | None:
        return self.run_dir / "checkpoints" / phase / "last.safetensors" if self.run_dir else None

    def steps(self) -> Iterator[StepReport]:
        """Every phase's reports in order; ``close()`` cancels the current phase (it checkpoints)."""
        offset = 0
        for index, phase in enumerate(self.phases):
            path = self.checkpoint_path(phase.name)
            if path is not None and path.is_file() and read_trainer_meta(path)["step"] >= phase.steps:
                self.model.load_state_dict(load_model_state(path))  # finished earlier: take its result
            else:
                self.trainer = self._trainer(phase, index, offset)
                if path is not None and path.is_file():
                    self.trainer.load_checkpoint(path)
                yield from self.trainer.steps()
            offset += phase.steps

    def _trainer(self, phase: Phase, index: int, offset: int) -> Trainer:
        groups = phase.param_groups(self.model, self.optimizer_config.lr)
        freeze_all_but(self.model, groups)
        optimizer = build_optimizer(groups, self.optimizer_config)
        path = self.checkpoint_path(phase.name)
        config = replace(self.trainer_config, max_steps=phase.steps, seed=self.trainer_config.seed + 1000 * index,
                         checkpoint_dir=str(path.parent) if path is not None else "")
        parts = TrainerParts(model=self.model, objective=phase.objective, optimizer=optimizer,
                             data=phase.make_data(), hooks=self.make_hooks(phase.name, offset),
                             lr_scheduler=build_lr_schedule(optimizer, self.optimizer_config, phase.steps),
                             phase=phase.name, extra_meta={**self.extra_meta, "phase_index": index})
        return Trainer(parts, config, self.dist)

