"""A toy regression problem for the trainer tests: the trainer must not need the dVAE."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from train.loop.hooks import Hook
from train.loop.sources import IndexedBatches
from train.loop.trainer import Trainer, TrainerConfig, TrainerParts

IN_DIM = 6
TRUE_WEIGHTS = torch.linspace(-1.0, 1.0, IN_DIM)


class ToyModel(nn.Module):
    """A small MLP with dropout, so that resuming must restore the RNG to be exact."""

    def __init__(self, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(IN_DIM, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, IN_DIM) -> (B,)
        return self.net(x).squeeze(-1)


def toy_objective(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
    x, y = batch
    mse = (model(x) - y).pow(2).mean()
    weight_norm = sum(p.pow(2).sum() for p in model.parameters())
    return {"total": mse + 1e-4 * weight_norm, "mse": mse, "weight_norm": weight_norm}


def toy_batch(index: int, batch_size: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch ``index`` of the toy stream: a pure function of (seed, index)."""
    generator = torch.Generator().manual_seed(seed * 100_003 + index)
    x = torch.randn(batch_size, IN_DIM, generator=generator)
    y = torch.sin(x @ TRUE_WEIGHTS) + 0.01 * torch.randn(batch_size, generator=generator)
    return x, y


def make_toy_trainer(ckpt_dir: Path | None = None, max_steps: int = 40, hooks: list[Hook] | None = None,
                     rank: int = 0, world_size: int = 1, batch_size: int = 16, dropout: float = 0.1,
                     lr: float = 1e-2, optimizer: str = "adam", **config_overrides) -> Trainer:
    torch.manual_seed(123)  # model initialisation
    model = ToyModel(dropout)
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.9)
    data = IndexedBatches(lambda k: toy_batch(k, batch_size), rank=rank, world_size=world_size)
    settings = {"log_every": 5, "checkpoint_every": 0, **config_overrides}
    config = TrainerConfig(max_steps=max_steps, checkpoint_dir=str(ckpt_dir) if ckpt_dir else "", **settings)
    parts = TrainerParts(model=model, objective=toy_objective, optimizer=opt, data=data, hooks=hooks or [],
                         lr_scheduler=sched, phase="toy")
    return Trainer(parts, config)


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def fake_hand_batch(indices: torch.Tensor, size: int = 8) -> "HandBatch":
    """A fully labelled ``HandBatch`` of random content; row i has ``index = indices[i]``."""
    from core.data.sample import APPEARANCE_DIM, HandBatch

    b = len(indices)
    g = torch.Generator().manual_seed(int(indices[0]))
    return HandBatch(
        image=torch.rand(b, 3, size, size, generator=g), mask=torch.ones(b, 1, size, size),
        keypoints_3d=torch.randn(b, 21, 3, generator=g) * 30 + torch.tensor([0.0, 0.0, 400.0]),
        keypoints_2d=torch.rand(b, 21, 2, generator=g) * size, visible=torch.ones(b, 21, dtype=torch.bool),
        K=torch.eye(3).expand(b, 3, 3).clone(), crop_rotation=torch.eye(3).expand(b, 3, 3).clone(),
        is_left=torch.zeros(b, dtype=torch.bool), content=torch.rand(b, 3, size, size, generator=g),
        appearance=torch.rand(b, APPEARANCE_DIM, generator=g), has_3d=torch.ones(b, dtype=torch.bool),
        has_2d=torch.ones(b, dtype=torch.bool), has_content=torch.ones(b, dtype=torch.bool),
        index=indices.to(torch.int64))
