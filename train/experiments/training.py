"""Training the compared models at a given budget with the project's generic trainer.

Budget = optimisation steps x batch size (samples seen), the same for every model: the dVAE
splits its steps between the disentangling and the embedding step (``dvae_split``), each
baseline trains in one phase. Every model is trained by ``train.loop.schedule.PhasedRun`` (the trainer
of ``train.fit``), with the same optimiser settings and data.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from core.baselines import (
    CrossModalConfig,
    CrossModalLoss,
    CrossModalObjective,
    CrossModalVAE,
    DirectRegression,
    DirectRegressionConfig,
    DirectRegressionLoss,
    DirectRegressionObjective,
    DVAEEstimator,
    PoseEstimator,
    save_baseline,
)
from core.checkpoint import save_model
from core.data.sample import HandBatch
from core.models import DVAE, DisentangleObjective, DVAEConfig, EmbeddingObjective
from core.models.objectives import DisentangleConfig, EmbeddingConfig, LabelLossWeights
from train.loop.hooks import Hook, ProgressBar, ProgressLines
from train.loop.optim import OptimizerConfig
from train.loop.schedule import Phase, PhasedRun, ScheduleConfig, two_step_phases
from train.loop.trainer import StepReport, TrainerConfig

# phase index (0: first phase, 1: the dVAE's embedding step) -> a fresh batch source
DataFactory = Callable[[int], Iterator[HandBatch]]


@dataclass
class TrainingSetup:
    """What every compared model shares."""

    network: DVAEConfig = field(default_factory=DVAEConfig)
    steps: int = 2000                     # optimisation steps per model (the budget)
    batch_size: int = 32
    dvae_split: float = 0.5               # share of the dVAE's steps spent in the disentangling step
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=1e-3, warmup_steps=100))
    labels: LabelLossWeights = field(default_factory=LabelLossWeights)  # every model's label terms
    device: str = "cpu"
    seed: int = 0
    progress: bool = False        # a tqdm bar per phase
    progress_lines: bool = False  # else plain progress lines on stderr (logs, CI)

    @property
    def dvae_schedule(self) -> ScheduleConfig:
        """The dVAE's share of the budget: disentangling steps, then embedding steps."""
        first = int(round(self.steps * self.dvae_split))
        return ScheduleConfig(disentangle_steps=first, embed_steps=self.steps - first)

    def trainer_config(self) -> TrainerConfig:
        log_every = max(1, min(50, self.steps // 4))
        return TrainerConfig(max_steps=self.steps, log_every=log_every, checkpoint_every=0, device=self.device,
                             seed=self.seed)

    def scaled_optimizer(self) -> OptimizerConfig:
        """Warm-up no longer than a tenth of the budget (tiny smoke-test budgets)."""
        return replace(self.optimizer, warmup_steps=min(self.optimizer.warmup_steps, max(1, self.steps // 10)))


@dataclass
class TrainedModel:
    """A trained model and how its training went."""

    name: str
    model: nn.Module
    estimator: PoseEstimator
    steps: int
    samples: int
    seconds: float
    final_losses: dict[str, float]
    parameters: int

    def save(self, path: Path) -> Path:
        """Write the model as a checkpoint ``train.evaluate.synthetic`` reads (dVAE or baseline kind)."""
        if isinstance(self.model, DVAE):
            return save_model(path, self.model, step=self.steps)
        return save_baseline(path, self.model, step=self.steps)


def _run(name: str, model: nn.Module, phases: list[Phase], setup: TrainingSetup,
         estimator: PoseEstimator) -> TrainedModel:
    def hooks(phase: str, offset: int) -> list[Hook]:
        if setup.progress:
            return [ProgressBar(desc=f"{name}: {phase}")]
        return [ProgressLines(f"train.experiments: {name}: ")] if setup.progress_lines else []

    run = PhasedRun(model, phases, setup.scaled_optimizer(), setup.trainer_config(), run_dir=None, make_hooks=hooks)
    start = time.perf_counter()
    last: StepReport | None = None
    for last in run.steps():
        pass
    seconds = time.perf_counter() - start
    for parameter in model.parameters():  # PhasedRun froze parts per phase; leave nothing frozen
        parameter.requires_grad_(True)
    model.eval()
    steps = sum(p.steps for p in phases)
    return TrainedModel(name, model, estimator, steps, steps * setup.batch_size, seconds,
                        dict(last.losses) if last is not None else {},
                        sum(p.numel() for p in model.parameters()))


def train_dvae(setup: TrainingSetup, data: DataFactory, name: str = "dVAE") -> TrainedModel:
    """The dVAE's two steps (disentangling, then embedding) within ``setup.steps``."""
    torch.manual_seed(setup.seed)
    model = DVAE(setup.network)
    phases = two_step_phases(setup.dvae_schedule, DisentangleObjective(DisentangleConfig(labels=setup.labels)),
                             EmbeddingObjective(EmbeddingConfig(labels=setup.labels)),
                             lambda: data(0), lambda: data(1))
    return _run(name, model, phases, setup, DVAEEstimator(model))


def train_direct_regression(setup: TrainingSetup, data: DataFactory, name: str = "direct regression") -> TrainedModel:
    """Baseline (a), one phase of ``setup.steps``."""
    torch.manual_seed(setup.seed)
    model = DirectRegression(DirectRegressionConfig(setup.network))
    objective = DirectRegressionObjective(DirectRegressionLoss(labels=setup.labels))
    phase = Phase("regress", setup.steps, objective, lambda: data(0), objective.param_groups)
    return _run(name, model, [phase], setup, model)


def train_crossmodal(setup: TrainingSetup, data: DataFactory, name: str = "cross-modal VAE",
                     decode_image: bool = False) -> TrainedModel:
    """Baseline (b), one phase of ``setup.steps`` (both cross-modal ELBOs in every step)."""
    torch.manual_seed(setup.seed)
    model = CrossModalVAE(CrossModalConfig(setup.network, decode_image=decode_image))
    objective = CrossModalObjective(CrossModalLoss(labels=setup.labels))
    phase = Phase("crossmodal", setup.steps, objective, lambda: data(0), objective.param_groups)
    return _run(name, model, [phase], setup, model)
