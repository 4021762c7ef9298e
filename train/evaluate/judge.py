"""A 2D keypoint judge: reads where the joints are in a hand image, to rate syntheses.

Pose fidelity of a decoder = how well a judge trained on renders only reads the requested pose
back from the decoder's images, next to how well it reads the renders of the same poses. The
judge must itself read renders well, or it rates colour blobs as hands; so it is a dedicated
2D network (heatmaps at half resolution trained towards Gaussians, soft-argmax to pixels), trained
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

from core.cli_args import Parser, count, int_range
from core.data.synthetic import SyntheticBatchSource, SyntheticConfig
from core.hand.joints import NUM_JOINTS
from core.models.blocks import ResidualBlock
from core.precision import cpu_has_bf16

JUDGE_KIND = "dvae-hands/keypoint-judge-v2"


@dataclass(frozen=True)
class JudgeConfig:
    """The judge's architecture and training recipe."""

    image_size: int = 64
    width: int = 32
    steps: int = 4500
    batch_size: int = 32
    lr: float = 2e-3
    heatmap_sigma: float = 1.0       # target heatmap Gaussian width, heatmap cells (2 px at 64 px)
    coordinate_weight: float = 0.1   # smooth-L1 on the soft-argmax pixels, beside the heatmap loss
    flip_test: bool = True           # read the image and its mirror image, average (it trains on both sides)
    seed: int = 11   # the synthetic stream it trains on (not the decoders' or the test set's)
    # train in bfloat16 autocast where the CPU has it natively (``train.loop.trainer.cpu_has_bf16``;
    # about 2x faster at 128 px on an AMX Xeon); it always reads in float32
    bf16: bool = False


class KeypointJudge(nn.Module):
    """Image (B, 3, S, S) in [0, 1] -> 2D keypoints (B, 21, 2) in crop pixels.

    A small U-shaped ResNet: a stride-2 stem to S / 2, stages at S / 2, S / 4, S / 8, back up to
    S / 2 with skips, 21 heatmaps at S / 2 whose softmax expectations are the keypoints; with
    ``flip_test`` the average of the image's and its mirror image's readings.
    """

    def __init__(self, config: JudgeConfig = JudgeConfig()) -> None:
        super().__init__()
        w = config.width
        self.config = config
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, stride=2, padding=1, bias=False), nn.GroupNorm(8, w), nn.SiLU())
        self.at_half = nn.Sequential(ResidualBlock(w, w), ResidualBlock(w, w))                              # S / 2
        self.at_quarter = nn.Sequential(ResidualBlock(w, w * 2, stride=2), ResidualBlock(w * 2, w * 2))     # S / 4
        self.at_eighth = nn.Sequential(ResidualBlock(w * 2, w * 4, stride=2), ResidualBlock(w * 4, w * 4),
                                    ResidualBlock(w * 4, w * 4))                                         # S / 8
        self.up_quarter = ResidualBlock(w * 4 + w * 2, w * 2)
        self.up_half = ResidualBlock(w * 2 + w, w)
        self.heatmaps = nn.Conv2d(w, NUM_JOINTS, 1)

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> heatmap logits (B, 21, S/2, S/2)."""
        half = self.at_half(self.stem(image * 2.0 - 1.0))
        quarter = self.at_quarter(half)
        eighth = self.at_eighth(quarter)
        up = self.up_quarter(torch.cat([F.interpolate(eighth, scale_factor=2.0, mode="nearest"), quarter], dim=1))
        up = self.up_half(torch.cat([F.interpolate(up, scale_factor=2.0, mode="nearest"), half], dim=1))
        return self.heatmaps(up)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        size = image.shape[-1]
        keypoints = heatmap_expectation(self.logits(image), size)
        if not self.config.flip_test:
            return keypoints
        # A mirrored hand is the other side's hand with the same joint names: read it, mirror back.
        mirrored = heatmap_expectation(self.logits(image.flip(-1)), size)
        unmirrored = torch.stack([size - 1 - mirrored[..., 0], mirrored[..., 1]], dim=-1)
        return 0.5 * (keypoints + unmirrored)


def _cell_centres(cells: int, size: int, like: torch.Tensor) -> torch.Tensor:
    """Crop-pixel coordinates (cells,) of the centres of ``cells`` heatmap cells across ``size`` pixels."""
    scale = size / cells
    return (torch.arange(cells, dtype=like.dtype, device=like.device) + 0.5) * scale - 0.5


def heatmap_expectation(logits: torch.Tensor, size: int) -> torch.Tensor:
    """Soft-argmax: logits (B, J, h, w) -> expected keypoints (B, J, 2) in pixels of a ``size`` crop."""
    b, j, h, w = logits.shape
    prob = logits.flatten(2).softmax(dim=-1).view(b, j, h, w)
    u = (prob.sum(dim=2) * _cell_centres(w, size, logits)).sum(-1)
    v = (prob.sum(dim=3) * _cell_centres(h, size, logits)).sum(-1)
    return torch.stack([u, v], dim=-1)


def heatmap_targets(keypoints: torch.Tensor, cells: int, size: int, sigma_cells: float) -> torch.Tensor:
    """Normalised Gaussian targets (B, J, cells * cells) around keypoints (B, J, 2) in crop pixels."""
    centres = _cell_centres(cells, size, keypoints)
    step = size / cells
    dx = (centres[None, None, :] - keypoints[..., 0:1]) / step    # (B, J, cells)
    dy = (centres[None, None, :] - keypoints[..., 1:2]) / step
    target = torch.exp(-(dy[..., :, None].square() + dx[..., None, :].square()) / (2 * sigma_cells**2))
    return (target / target.sum((-1, -2), keepdim=True).clamp_min(1e-12)).flatten(2)


def judge_loss(judge: KeypointJudge, image: torch.Tensor, keypoints: torch.Tensor) -> dict[str, torch.Tensor]:
    """Named terms: heatmap cross-entropy against Gaussian targets, smooth-L1 on the soft-argmax."""
    config = judge.config
    logits = judge.logits(image)
    targets = heatmap_targets(keypoints, logits.shape[-1], image.shape[-1], config.heatmap_sigma)
    heatmap = -(targets * logits.flatten(2).log_softmax(dim=-1)).sum(-1).mean()
    coordinates = F.smooth_l1_loss(heatmap_expectation(logits, image.shape[-1]), keypoints)
    return {"heatmap": heatmap, "coordinates": coordinates, "total": heatmap + config.coordinate_weight * coordinates}


def keypoint_error_px(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean 2D distance per image (B,) between (B, 21, 2) keypoint sets."""
    return (predicted - target).square().sum(-1).sqrt().mean(-1)


@torch.no_grad()
def render_error_px(judge: KeypointJudge, count: int = 256, seed: int = 12345) -> float:
    """The judge's mean 2D error (px) on ``count`` held-out renders of the default stream."""
    source = SyntheticBatchSource(SyntheticConfig.at_size(judge.config.image_size), seed=seed, batch_size=64)
    was_training = judge.training
    judge.eval()
    errors = [keypoint_error_px(judge(batch.image), batch.keypoints_2d) for batch in
              (next(source) for _ in range(max(1, count // 64)))]
    judge.train(was_training)
    return float(torch.cat(errors).mean())


def train_judge(config: JudgeConfig = JudgeConfig(), log_every_s: float = 60.0,
                evaluate_every_s: float = 600.0) -> KeypointJudge:
    """Train a judge on renders (every joint, visible or not: syntheses have no visibility)."""
    torch.manual_seed(config.seed)
    judge = KeypointJudge(config)
    source = SyntheticBatchSource(SyntheticConfig.at_size(config.image_size), seed=config.seed,
                                  batch_size=config.batch_size)
    optimizer = torch.optim.AdamW(judge.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=config.steps, pct_start=0.05)
    bf16 = config.bf16 and cpu_has_bf16()
    start = last = last_eval = time.monotonic()
    for step in range(1, config.steps + 1):
        batch = next(source)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            terms = judge_loss(judge, batch.image, batch.keypoints_2d)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        schedule.step()
        if time.monotonic() - last >= log_every_s or step == config.steps:
            last = time.monotonic()
            rate = step / (last - start)
            held_out = ""
            if last - last_eval >= evaluate_every_s or step == config.steps:
                last_eval = last
                held_out = f", held-out renders {render_error_px(judge):.2f} px"
            print(f"judge step {step}/{config.steps} heatmap {terms['heatmap'].item():.3f} "
                  f"coordinates {terms['coordinates'].item():.3f}{held_out}, "
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


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m train.evaluate.judge", description="Train and save the 2D keypoint judge.")
    parser.add_argument("--size", type=int_range(16, 1024, "pixels"), default=64, help="crop size in pixels")
    parser.add_argument("--steps", type=count(10_000_000), default=JudgeConfig.steps, help="training steps (batch 32)")
    parser.add_argument("--bf16", action="store_true", help="train in bfloat16 where the CPU has it natively")
    parser.add_argument("--out", default="", help="where to save it (default runs/judge/judge_SIZE.safetensors)")
    args = parser.parse_args(argv)
    out = args.out or f"runs/judge/judge_{args.size}.safetensors"
    judge = load_or_train_judge(Path(out), JudgeConfig(image_size=args.size, steps=args.steps, bf16=args.bf16))
    print(f"judge {out}: held-out renders {render_error_px(judge):.2f} px")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
