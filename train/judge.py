"""A 2D keypoint judge: reads where the joints are in a hand image, to rate syntheses.

Pose fidelity of a decoder = how well a judge trained on renders only reads the requested pose
back from the decoder's images, next to how well it reads the renders of the same poses. The
judge must itself read renders well, or it rates colour blobs as hands; so it is a dedicated
2D network (heatmaps at half resolution, soft-argmax to pixels: integral regression), trained
once on the synthetic stream, saved, and reused (``load_or_train_judge``).
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from core.data.synthetic import SyntheticBatchSource, SyntheticConfig
from core.hand.joints import NUM_JOINTS
from core.models.blocks import ResidualBlock

JUDGE_KIND = "dvae-hands/keypoint-judge-v1"


@dataclass(frozen=True)
class JudgeConfig:
    """The judge's architecture and training recipe."""

    image_size: int = 64
    width: int = 32
    steps: int = 4000
    batch_size: int = 32
    lr: float = 2e-3
    seed: int = 11   # the synthetic stream it trains on (not the decoders' or the test set's)


class KeypointJudge(nn.Module):
    """Image (B, 3, S, S) in [0, 1] -> 2D keypoints (B, 21, 2) in crop pixels.

    A small U-shaped ResNet: stride-2 stages to S / 8, back up to S / 2 with skips, 21 heatmaps
    at S / 2 whose softmax expectations are the keypoints.
    """

    def __init__(self, config: JudgeConfig = JudgeConfig()) -> None:
        super().__init__()
        w = config.width
        self.config = config
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, padding=1, bias=False), nn.GroupNorm(8, w), nn.SiLU())
        self.down1 = ResidualBlock(w, w * 2, stride=2)          # S / 2
        self.down2 = ResidualBlock(w * 2, w * 3, stride=2)      # S / 4
        self.down3 = nn.Sequential(ResidualBlock(w * 3, w * 4, stride=2), ResidualBlock(w * 4, w * 4))  # S / 8
        self.up2 = ResidualBlock(w * 4 + w * 3, w * 3)
        self.up1 = ResidualBlock(w * 3 + w * 2, w * 2)
        self.heatmaps = nn.Conv2d(w * 2, NUM_JOINTS, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.stem(image * 2.0 - 1.0)
        d1 = self.down1(x)
        d2 = self.down2(d1)
        d3 = self.down3(d2)
        u2 = self.up2(torch.cat([F.interpolate(d3, scale_factor=2.0, mode="nearest"), d2], dim=1))
        u1 = self.up1(torch.cat([F.interpolate(u2, scale_factor=2.0, mode="nearest"), d1], dim=1))
        logits = self.heatmaps(u1)                               # (B, 21, S/2, S/2)
        b, j, h, w = logits.shape
        prob = logits.flatten(2).softmax(dim=-1).view(b, j, h, w)
        scale = image.shape[-1] / w
        xs = (torch.arange(w, dtype=prob.dtype, device=prob.device) + 0.5) * scale - 0.5
        ys = (torch.arange(h, dtype=prob.dtype, device=prob.device) + 0.5) * scale - 0.5
        u = (prob.sum(dim=2) * xs).sum(-1)
        v = (prob.sum(dim=3) * ys).sum(-1)
        return torch.stack([u, v], dim=-1)


def keypoint_error_px(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean 2D distance per image (B,) between (B, 21, 2) keypoint sets."""
    return (predicted - target).square().sum(-1).sqrt().mean(-1)


def train_judge(config: JudgeConfig = JudgeConfig(), log_every_s: float = 60.0) -> KeypointJudge:
    """Train a judge on renders (every joint, visible or not: syntheses have no visibility)."""
    torch.manual_seed(config.seed)
    judge = KeypointJudge(config)
    source = SyntheticBatchSource(SyntheticConfig.at_size(config.image_size), seed=config.seed,
                                  batch_size=config.batch_size)
    optimizer = torch.optim.AdamW(judge.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=config.steps, pct_start=0.05)
    start = last = time.monotonic()
    for step in range(1, config.steps + 1):
        batch = next(source)
        loss = F.smooth_l1_loss(judge(batch.image), batch.keypoints_2d)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if time.monotonic() - last >= log_every_s or step == config.steps:
            last = time.monotonic()
            rate = step / (last - start)
            print(f"judge step {step}/{config.steps} loss {loss.item():.3f} "
                  f"{rate * config.batch_size:.0f} samples/s, {(config.steps - step) / rate / 60:.1f} min left",
                  file=sys.stderr, flush=True)
    return judge.eval()


def save_judge(judge: KeypointJudge, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"kind": JUDGE_KIND, "config": json.dumps(asdict(judge.config))}
    save_file({k: v.contiguous() for k, v in judge.state_dict().items()}, str(path), metadata=meta)
    return path


def load_judge(path: Path) -> KeypointJudge:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        meta = handle.metadata() or {}
    if meta.get("kind") != JUDGE_KIND:
        raise ValueError(f"{path}: not a keypoint judge (kind {meta.get('kind')!r})")
    judge = KeypointJudge(JudgeConfig(**json.loads(meta["config"])))
    judge.load_state_dict(load_file(str(path)))
    return judge.eval()


def load_or_train_judge(path: Path, config: JudgeConfig = JudgeConfig()) -> KeypointJudge:
    """The judge saved at ``path``, or a new one trained with ``config`` and saved there."""
    if path.exists():
        judge = load_judge(path)
        if judge.config == config:
            return judge
    return load_judge(save_judge(train_judge(config), path))
