"""A generic trainer (minGPT / detectron2 style): it is handed its parts and knows no model.

    trainer = Trainer(TrainerParts(model, objective, optimizer, data, hooks=[...]), TrainerConfig(...))
    for report in trainer.steps():      # one StepReport per optimisation step
        ...                             # stop iterating to pause; iterate again to go on
    # generator.close() cancels: the trainer writes ``last.safetensors`` before it returns

``objective(model, batch) -> dict[str, Tensor]`` returns named scalar loss terms with a
``"total"`` key (the one that is minimised). ``data`` yields batches (anything with
``.to(device)``, or tensors / tuples of tensors); it is resumable when it has
``state_dict``/``load_state_dict`` (see ``train.loop.sources``). Under ``torchrun`` (WORLD_SIZE > 1)
the model+objective are wrapped in DistributedDataParallel and only rank 0 writes files.
``state_dict()`` / ``load_state_dict()`` hold all a resumed run needs (like accelerate's or
Lightning's); ``train.loop.checkpointing`` only turns that dict into a file and back.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core.checkpoint import CheckpointError
from core.precision import cpu_has_bf16
from train.loop.checkpointing import load_trainer_state, save_trainer_state
from train.loop.distributed import DistContext
from train.loop.hooks import Hook

Objective = Callable[[nn.Module, Any], dict[str, torch.Tensor]]


@dataclass
class TrainerConfig:
    """How one training phase runs. Step counts are optimisation steps of this phase."""

    max_steps: int = 1000
    log_every: int = 50          # average loss terms over this many steps, then report them
    eval_every: int = 0          # call the hooks' on_eval every n steps (0: only at the end)
    checkpoint_every: int = 1000  # rewrite last.safetensors every n steps (0: only at the end)
    keep_every: int = 0          # also keep step_NNNNNNN.safetensors every n steps (0: never)
    grad_clip: float = 0.0       # max global grad norm (0: no clipping)
    seed: int = 0
    device: str = "cpu"          # "cpu", "cuda" (this process's GPU under torchrun) or "cuda:N"
    amp: bool = True             # mixed precision on CUDA (bf16 when supported, else fp16 + GradScaler)
    # bfloat16 autocast on a CPU with native bf16 arithmetic (AMX-BF16 or AVX512-BF16; ``cpu_has_bf16``),
    # float32 elsewhere. Off by default: results then do not depend on which CPU trains.
    cpu_bf16: bool = False
    checkpoint_dir: str = ""     # where last.safetensors goes ("" = write no checkpoints)
    find_unused_parameters: bool = True  # DDP: parameters may skip a step (e.g. masked terms)

    def __post_init__(self) -> None:
        for name in ("max_steps", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainerConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("eval_every", "checkpoint_every", "keep_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainerConfig.{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class TrainerParts:
    """Everything the trainer trains with. ``extra_meta`` (JSON) is stored in each checkpoint."""

    model: nn.Module
    objective: Objective
    optimizer: torch.optim.Optimizer
    data: Iterator[Any]
    hooks: list[Hook] = field(default_factory=list)
    lr_scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    phase: str = "train"
    extra_meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepReport:
    """Progress after one optimisation step."""

    step: int                  # steps done in this phase, 1..max_steps
    max_steps: int
    losses: dict[str, float]   # mean of each term over the latest log window (and ranks)
    samples_per_s: float       # over the latest log window, all ranks together
    elapsed_s: float           # training time of this phase, pauses excluded, resumed runs included
    eta_s: float               # estimated time to max_steps (nan before the first log window)
    phase: str
    logged: bool               # losses / samples_per_s were refreshed at this step


class _ObjectiveModule(nn.Module):
    """model + objective as one module, so DDP sees the whole loss computation as ``forward``."""

    def __init__(self, model: nn.Module, objective: Objective) -> None:
        super().__init__()
        self.model = model
        self.objective = objective  # registered as a submodule when it is an nn.Module

    def forward(self, batch: Any) -> dict[str, torch.Tensor]:
        return self.objective(self.model, batch)


def move_to(batch: Any, device: torch.device) -> Any:
    """Move a batch (``.to``-able object, tensor, or tuple/list/dict of them) to ``device``."""
    if isinstance(batch, (tuple, list)):
        return type(batch)(move_to(item, device) for item in batch)
    if isinstance(batch, dict):
        return {key: move_to(item, device) for key, item in batch.items()}
    return batch.to(device, non_blocking=True)


def batch_size_of(batch: Any) -> int:
    if hasattr(batch, "batch_size"):
        return int(batch.batch_size)
    if isinstance(batch, (tuple, list)):
        return batch_size_of(batch[0])
    if isinstance(batch, dict):
        return batch_size_of(next(iter(batch.values())))
    return int(batch.shape[0])


def pick_amp_dtype(device: torch.device, amp: bool, cpu_bf16: bool = False) -> torch.dtype | None:
    """bf16 on CUDA when supported, else fp16; on the CPU bf16 with ``cpu_bf16`` where the CPU has
    it natively (``cpu_has_bf16``); None (full precision) otherwise or with amp=False."""
    if not amp:
        return None
    if device.type == "cpu":
        return torch.bfloat16 if cpu_bf16 and cpu_has_bf16() else None
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class Trainer:
    """Runs one training phase step by step; see the module docstring."""

    def __init__(self, parts: TrainerParts, config: TrainerConfig, dist_ctx: DistContext | None = None) -> None:
        self.config, self.phase = config, parts.phase
        self.dist = dist_ctx if dist_ctx is not None else DistContext.from_env(config.device)
        self.device = self.dist.device(config.device)
        self.model, self.objective = parts.model.to(self.device), parts.objective
        self.optimizer, self.lr_scheduler = parts.optimizer, parts.lr_scheduler
        self.data_source = parts.data
        self.data = iter(parts.data)
        self.extra_meta = parts.extra_meta
        self.hooks = [h for h in parts.hooks if self.dist.is_main or not h.main_process_only]
        self.amp_dtype = pick_amp_dtype(self.device, config.amp, config.cpu_bf16)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.loss_module: nn.Module = _ObjectiveModule(self.model, self.objective).to(self.device)
        if self.dist.enabled:
            self.loss_module = DistributedDataParallel(
                self.loss_module, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=config.find_unused_parameters)
        self.trained_params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.step = 0
        self.last_report: StepReport | None = None
        self._elapsed_before = 0.0  # active time before the current stretch (restored on resume)
        self._active_since: float | None = None
        self._seeded = False        # fresh runs seed at their first step; resumed runs restore RNG
        self._saved_step = -1
        self._window_sums: dict[str, torch.Tensor] = {}
        self._window_steps = self._window_samples = 0
        self._window_start_s = 0.0
        self._losses: dict[str, float] = {}
        self._samples_per_s = self._steps_per_s = math.nan

    @property
    def checkpoint_path(self) -> Path | None:
        return Path(self.config.checkpoint_dir) / "last.safetensors" if self.config.checkpoint_dir else None

    @property
    def done(self) -> bool:
        return self.step >= self.config.max_steps

    def window_so_far(self) -> tuple[dict[str, float], float]:
        """(mean loss terms of this process, samples/s of all) since the last log window closed, or
        ({}, nan): progress before the first window closes (minutes on a CPU). A host sync."""
        if not self._window_steps:
            return {}, math.nan
        losses = {name: float(value) / self._window_steps for name, value in self._window_sums.items()}
        seconds = self.elapsed_s - self._window_start_s
        return losses, (self._window_samples / seconds if seconds > 0 else math.nan)

    # -- the loop -------------------------------------------------------------------------------
    def steps(self) -> Iterator[StepReport]:
        """Train until ``max_steps``, yielding a report after each step.

        Pause: stop calling ``next``; resume: call it again (no time is counted meanwhile).
        Cancel: ``close()`` the generator; a checkpoint of the last finished step is written.
        """
        if not self._seeded:
            torch.manual_seed(self.config.seed + self.dist.rank)
            self._seeded = True
        for hook in self.hooks:
            hook.on_start(self)
        self._active_since = time.perf_counter()
        try:
            while not self.done:
                for hook in self.hooks:
                    hook.before_step(self)
                self.run_step()
                self.step += 1
                logged = self.step % self.config.log_every == 0 or self.done
                if logged:
                    self._close_log_window()
                report = self._report(logged)
                for hook in self.hooks:
                    hook.after_step(self, report)
                if self._due(self.config.eval_every) or self.done:
                    self.evaluate()
                if self._due(self.config.checkpoint_every) or self._due(self.config.keep_every) or self.done:
                    self.save_checkpoint(keep=self._due(self.config.keep_every))
                self.last_report = report
                self._pause_clock()
                yield report
                self._active_since = time.perf_counter()
        except GeneratorExit:
            if self.step != self._saved_step:
                self.save_checkpoint()
            raise
        finally:
            self._pause_clock()
            for hook in self.hooks:
                hook.on_end(self)

    def run_step(self) -> None:
        """One optimisation step on the next batch; loss terms are summed for the log window."""
        batch = move_to(next(self.data), self.device)
        self.model.train()
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            terms = self.loss_module(batch)
        if "total" not in terms:
            raise KeyError(f"phase {self.phase!r}: the objective returned {sorted(terms)} without a 'total' term")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(terms["total"]).backward()
        if self.config.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.trained_params, self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.lr_scheduler is not None:
            self.lr_scheduler.step()
        with torch.no_grad():
            for name, value in terms.items():
                value = value.detach().float()
                self._window_sums[name] = self._window_sums.get(name, 0) + value
        self._window_steps += 1
        self._window_samples += batch_size_of(batch) * self.dist.world_size

    def evaluate(self) -> None:
        """Call every hook's ``on_eval`` with the model in eval mode and gradients off."""
        self.model.eval()
        with torch.no_grad():
            for hook in self.hooks:
                hook.on_eval(self)
        self.model.train()

    # -- bookkeeping ----------------------------------------------------------------------------
    def _due(self, every: int) -> bool:
        return every > 0 and self.step % every == 0

    def _pause_clock(self) -> None:
        if self._active_since is not None:
            self._elapsed_before += time.perf_counter() - self._active_since
            self._active_since = None

    @property
    def elapsed_s(self) -> float:
        """Active training time of this phase (pauses excluded, earlier resumed runs included)."""
        running = time.perf_counter() - self._active_since if self._active_since is not None else 0.0
        return self._elapsed_before + running

    def _close_log_window(self) -> None:
        names = sorted(self._window_sums)
        means = torch.stack([self._window_sums[n] for n in names]) / self._window_steps
        values = self.dist.mean_over_ranks(means).tolist()  # the one host sync per window
        self._losses = dict(zip(names, values))
        bad = [n for n, v in self._losses.items() if not math.isfinite(v)]
        if bad:
            raise FloatingPointError(
                f"phase {self.phase!r}: non-finite loss term(s) {bad} in steps "
                f"{self.step - self._window_steps + 1}..{self.step}; the last checkpoint "
                f"({self.checkpoint_path or 'none'}, step {self._saved_step}) is untouched")
        seconds = max(self.elapsed_s - self._window_start_s, 1e-9)
        self._samples_per_s = self._window_samples / seconds
        self._steps_per_s = self._window_steps / seconds
        self._window_sums, self._window_steps, self._window_samples = {}, 0, 0
        self._window_start_s = self.elapsed_s

    def _report(self, logged: bool) -> StepReport:
        eta = (self.config.max_steps - self.step) / self._steps_per_s if self._steps_per_s > 0 else math.nan
        return StepReport(step=self.step, max_steps=self.config.max_steps, losses=dict(self._losses),
                          samples_per_s=self._samples_per_s, elapsed_s=self.elapsed_s, eta_s=eta,
                          phase=self.phase, logged=logged)

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this phase bit-identically, as a nested dict.

        Keys: ``model``, ``objective`` (its state when it is a module, else ``{}``), ``optim``,
        ``scaler``, ``sched`` (None without an LR schedule), ``ranks`` (per rank, in rank order:
        ``rng_cpu``, ``rng_cuda`` on CUDA, ``data`` = the data source's ``state_dict()`` or None),
        and the plain values ``phase``, ``step``, ``max_steps``, ``elapsed_s``, ``world_size``,
        ``config`` (the TrainerConfig as a dict) and ``extra`` (the parts' ``extra_meta``).
        Tensors are the live ones (as in ``nn.Module.state_dict``); ``train.loop.checkpointing``
        copies them into a file. Collective under DDP: every rank must call it at the same step.
        """
        return {
            "model": self.model.state_dict(),
            "objective": self.objective.state_dict() if isinstance(self.objective, nn.Module) else {},
            "optim": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "sched": self.lr_scheduler.state_dict() if self.lr_scheduler is not None else None,
            "ranks": self.dist.gather_objects(self._rank_state()),
            "phase": self.phase, "step": self.step, "max_steps": self.config.max_steps,
            "elapsed_s": self.elapsed_s, "world_size": self.dist.world_size,
            "config": self.config_dict(), "extra": self.extra_meta,
        }

    def _rank_state(self) -> dict[str, Any]:
        """What differs between ranks: RNG states and the data source's position."""
        state: dict[str, Any] = {"rng_cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(self.device)
        source = self.data_source
        state["data"] = source.state_dict() if hasattr(source, "state_dict") else None
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()``: model, objective, optimizer, scaler, LR schedule, step,
        time, RNG and data position. Refuses (``CheckpointError``) a state of another phase or
        model; a state written by another number of processes is taken with a warning."""
        if state["phase"] != self.phase:
            raise CheckpointError(f"checkpoint of phase {state['phase']!r}, resuming phase {self.phase!r}")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise CheckpointError(f"model weights do not fit this model: {exc}") from exc
        if isinstance(self.objective, nn.Module) and state["objective"]:
            self.objective.load_state_dict(state["objective"])
        self.optimizer.load_state_dict(state["optim"])
        self.scaler.load_state_dict(state["scaler"])
        if self.lr_scheduler is not None and state["sched"] is not None:
            self.lr_scheduler.load_state_dict(state["sched"])
        saved_world = int(state["world_size"])
        if saved_world != self.dist.world_size:
            warnings.warn(f"trainer state written by {saved_world} process(es), resumed by "
                          f"{self.dist.world_size}: batches and random numbers will differ from an "
                          "uninterrupted run", stacklevel=3)
        rank_state = state["ranks"][min(self.dist.rank, saved_world - 1)]
        torch.set_rng_state(rank_state["rng_cpu"])
        if self.device.type == "cuda" and "rng_cuda" in rank_state:
            torch.cuda.set_rng_state(rank_state["rng_cuda"], self.device)
        if rank_state["data"] is not None and hasattr(self.data_source, "load_state_dict"):
            self.data_source.load_state_dict(rank_state["data"])
        self.step = int(state["step"])
        self.restore_clock(float(state["elapsed_s"]))
        self._seeded = True

    # -- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self, keep: bool = False) -> Path | None:
        """Write ``last.safetensors`` (and ``step_NNNNNNN.safetensors`` with ``keep``) atomically.

        Collective under DDP: every rank must call it at the same step (ranks send rank 0 their
        RNG and data-source states); only rank 0 writes.
        """
        path = self.checkpoint_path
        if path is None:
            return None
        state = self.state_dict()
        if self.dist.is_main:
            if state["ranks"][0]["data"] is None:
                warnings.warn(f"data source {type(self.data_source).__name__} has no state_dict(): a run "
                              "resumed from this checkpoint will not see the same batches", stacklevel=2)
            keep_copy = path.with_name(f"step_{self.step:07d}.safetensors") if keep else None
            save_trainer_state(state, path, keep_copy=keep_copy)
        self._saved_step = self.step
        return path

    def load_checkpoint(self, path: Path | str) -> None:
        """Restore the state that ``save_checkpoint`` wrote to ``path`` (every rank reads it)."""
        state = load_trainer_state(Path(path))
        try:
            self.load_state_dict(state)
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: {exc}") from exc
        self._saved_step = self.step

    def restore_clock(self, elapsed_s: float) -> None:
        """Continue the elapsed-time count of a resumed run."""
        self._elapsed_before, self._window_start_s = elapsed_s, elapsed_s

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)
