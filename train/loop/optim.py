"""The optimiser and learning-rate schedule of a training phase."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class OptimizerConfig:
    """AdamW with linear warm-up then cosine decay (or a constant rate) per phase."""

    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    warmup_steps: int = 200
    cosine: bool = True            # decay to min_lr_fraction * lr at the phase's last step
    min_lr_fraction: float = 0.05

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"OptimizerConfig.lr must be > 0, got {self.lr}")
        if self.warmup_steps < 0 or not 0.0 <= self.min_lr_fraction <= 1.0:
            raise ValueError("OptimizerConfig: warmup_steps must be >= 0 and min_lr_fraction in [0, 1]")


def build_optimizer(param_groups: list[dict], config: OptimizerConfig) -> torch.optim.AdamW:
    """AdamW over ``param_groups`` (each may carry its own ``lr``; the others get ``config.lr``)."""
    if not any(group["params"] for group in param_groups):
        raise ValueError("build_optimizer: no parameters to train")
    return torch.optim.AdamW(param_groups, lr=config.lr, betas=tuple(config.betas), weight_decay=config.weight_decay)


class WarmupCosine:
    """LR multiplier: linear ramp over ``warmup`` steps, then cosine from 1 to ``floor``."""

    def __init__(self, total_steps: int, warmup: int, cosine: bool, floor: float) -> None:
        self.total_steps, self.warmup, self.cosine, self.floor = total_steps, warmup, cosine, floor

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        if not self.cosine:
            return 1.0
        progress = min(1.0, (step - self.warmup) / max(1, self.total_steps - self.warmup))
        return self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_lr_schedule(optimizer: torch.optim.Optimizer, config: OptimizerConfig,
                      total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-group multiplier of each group's initial lr (so group lr ratios are kept).

    The multiplier is wrapped in a plain function so that checkpoints store only the step count:
    a run resumed with more steps follows the new schedule.
    """
    factor = WarmupCosine(total_steps, config.warmup_steps, config.cosine, config.min_lr_fraction)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: factor(step))
