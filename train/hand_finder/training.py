"""Train the hand finder on composites of rendered hands (``train.hand_finder.data``).

    python -m train.hand_finder --minutes 30 --out runs/hand_finder [--resume] [--threads 2]
           [--init default]
    python -m train.bundle finder runs/hand_finder/hand_finder.safetensors   # then, to bundle it

Runs for ``--minutes`` of training time (a resumed run counts the time already spent, so
``--resume --minutes 60`` continues a 30-minute run to 60); the learning rate follows a cosine
over that time. Prints a progress line at least every 30 s and, at every checkpoint (each
``--checkpoint-minutes``), the share of hands found on a fixed set of held-out composites.
Writes only under OUT: ``OUT/last.safetensors`` (trainer state, for ``--resume``) and
``OUT/hand_finder.safetensors`` (the model, float32). Replacing the bundled finder is a separate,
explicit step, ``python -m train.bundle finder OUT/hand_finder.safetensors`` (float16 in ``assets/``).
``--init`` starts a new run from a trained finder's weights (fine-tuning; a fresh optimizer, the
learning rate warming up again), ``--init default`` from the bundled one.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.checkpoint import CheckpointError
from core.cli_args import Parser, count, float_range, int_range, seed
from core.finder.config import HandFinderConfig
from core.finder.finder import HandFinder, save_finder
from core.finder.net import HandFinderNet
from train.hand_finder.data import Canvas, CompositeConfig, CompositeMaker
from train.hand_finder.loss import WindowSampling, WindowTargets, finder_loss, join_targets, window_batch
from train.hand_finder.match import LabelledHand, inside_picture, match
from train.hand_finder.mining import MiningCanvas, MiningConfig, hard_negatives
from train.loop.trainer import Trainer, TrainerConfig, TrainerParts

# A week of training time: more is a typo (the bundled finder took 185 minutes plus fine-tunes).
MAX_MINUTES = 7 * 24 * 60.0
VALIDATION_SEED = 9_001  # held-out composites: a seed (and hand stream) training never uses


@dataclass
class FinderBatch:
    """Window crops (N, 3, c, c) in [0, 1] and their ``WindowTargets``."""

    images: torch.Tensor
    targets: WindowTargets
    mine: list[MiningCanvas] = field(default_factory=list)

    @property
    def batch_size(self) -> int:
        return int(self.images.shape[0])

    def to(self, device: torch.device, non_blocking: bool = False) -> "FinderBatch":
        return FinderBatch(self.images.to(device, non_blocking=non_blocking), self.targets.to(device, non_blocking),
                           self.mine)


class FinderBatches:
    """Endless, resumable stream of ``FinderBatch``: batch k draws ``batch_size`` composites, and
    ``WindowSampling.per_canvas`` windows from each, from ``default_rng([seed, k])``.

    ``workers=1`` draws the batches in a second process (one more CPU core busy), in the same order.
    """

    def __init__(self, config: HandFinderConfig, data: CompositeConfig, batch_size: int, seed: int = 0,
                 workers: int = 0, ramp: int = 0, sampling: WindowSampling = WindowSampling(),
                 mining_canvases: int = 0) -> None:
        self.config, self.data, self.batch_size, self.seed = config, data, batch_size, seed
        self.sampling = sampling
        self.mining_canvases = mining_canvases  # composites per batch passed on for hard-negative mining
        self.ramp = ramp  # batches over which the difficulty grows from 0 to 1 (curriculum; 0: none)
        self.workers = workers
        self.index = 0
        self.maker = CompositeMaker(data, seed=seed) if workers == 0 else None
        self._loader = None

    def __iter__(self) -> "FinderBatches":
        return self

    def __next__(self) -> FinderBatch:
        if self.workers:
            if self._loader is None:
                stream = _Stream(FinderBatches(self.config, self.data, self.batch_size, self.seed, 0, self.ramp,
                                               self.sampling, self.mining_canvases), self.index)
                self._loader = iter(torch.utils.data.DataLoader(stream, batch_size=None, num_workers=1, prefetch_factor=2,
                                                                worker_init_fn=_one_thread))
            self.index += 1
            return next(self._loader)
        if self.maker is None:
            self.maker = CompositeMaker(self.data, seed=self.seed, step=self.index)
        self.maker.rng = np.random.default_rng([self.seed, self.index])
        self.maker.difficulty = min(1.0, self.index / self.ramp) if self.ramp else 1.0
        self.index += 1
        canvases = self.maker.batch(self.batch_size)
        images, targets = window_batch(canvases, self.maker.rng, self.config, self.sampling)
        mine = [MiningCanvas(c.image, np.array([b for b, _, _ in c.hands] + list(c.ignored), np.float64).reshape(-1, 4),
                             int(self.maker.rng.integers(2**62))) for c in canvases[: self.mining_canvases]]
        return FinderBatch(images, targets, mine)

    def state_dict(self) -> dict:
        return {"index": self.index}

    def load_state_dict(self, state: dict) -> None:
        self.index = int(state["index"])
        self.maker, self._loader = None, None


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


class _Stream(torch.utils.data.IterableDataset):
    """A ``FinderBatches`` from batch ``start`` on, for a DataLoader worker."""

    def __init__(self, batches: FinderBatches, start: int) -> None:
        self.batches, self.start = batches, start

    def __iter__(self):
        self.batches.load_state_dict({"index": self.start})
        while True:
            yield next(self.batches)


def validation_set(data: CompositeConfig, count: int, seed: int = VALIDATION_SEED) -> list[Canvas]:
    """``count`` held-out composites (deterministic)."""
    maker = CompositeMaker(data, seed=seed)
    out: list[Canvas] = []
    while len(out) < count:
        out += maker.batch(min(32, count - len(out)))
    return out


def render_recall(finder: HandFinder, canvases: list[Canvas]) -> dict[str, float]:
    """Share of hands found (``train.hand_finder.match``), right side among found, extra boxes
    per canvas, on composites."""
    found = right = sided = extra = hands = 0
    for canvas in canvases:
        image = (canvas.image * 255.0 + 0.5).astype(np.uint8)
        truth = [LabelledHand(inside_picture(kp, image.shape), left) for _, left, kp in canvas.hands]
        result = match(finder.find(image), truth)
        hands += len(truth)
        found += sum(result.found)
        extra += result.extra
        known = [s for s in result.side_right if s is not None]
        right += sum(known)
        sided += len(known)
    return {"hands": hands, "found": found / max(hands, 1), "side_right": right / max(sided, 1),
            "extra_per_image": extra / max(len(canvases), 1)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = Parser(prog="python -m train.hand_finder", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float_range(0, MAX_MINUTES, "minutes", low_open=True), default=30.0, help="training time in minutes (total, resumed runs included)")
    p.add_argument("--out", type=Path, default=Path("runs/hand_finder"))
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
    p.add_argument("--batch", type=count(1024), default=32, help="composites per step (8 windows are drawn from each)")
    p.add_argument("--lr", type=float_range(0, 1), default=2e-3)
    p.add_argument("--threads", type=int_range(0, 256), default=0, help="torch threads (0: torch's default)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--workers", type=int_range(0, 1), default=0, help="1: draw the training images in a second process")
    p.add_argument("--checkpoint-minutes", type=float_range(0, MAX_MINUTES, "minutes", low_open=True), default=3.0)
    p.add_argument("--validation", type=count(10_000), default=96, help="held-out composites measured at each checkpoint")
    p.add_argument("--init", help="start from this finder's weights ('default': the bundled one); not with --resume")
    p.add_argument("--ramp", type=int_range(0, 1_000_000), default=300,
                   help="batches over which clutter, distractors and small hands come in (0: all from the start)")
    p.add_argument("--mine", type=int_range(0, 1024), default=MiningConfig.canvases,
                   help="composites per step searched for hard negatives (train.hand_finder.mining; 0: none)")
    p.add_argument("--mine-keep", type=int_range(0, 1024), default=MiningConfig.keep, help="hard negatives kept from each")
    p.add_argument("--pool", type=count(100_000), default=CompositeConfig.pool_size, help="hand renders kept in memory")
    return p.parse_args(argv)


def _lr(base: float, elapsed_s: float, total_s: float, step: int, warmup: int = 100) -> float:
    cosine = 0.5 * (1 + math.cos(math.pi * min(elapsed_s / max(total_s, 1e-6), 1.0)))
    return base * min(1.0, (step + 1) / warmup) * (0.02 + 0.98 * cosine)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    config = HandFinderConfig()
    data = CompositeConfig(pool_size=args.pool)
    last = args.out / "last.safetensors"
    if last.exists() and not args.resume:
        print(f"error: {last} exists: pass --resume to continue that run, or choose another --out", file=sys.stderr)
        return 2
    if args.init is not None and args.resume:
        print("error: --init starts a new run; --resume continues one: pass one of them", file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)
    if args.init is None:
        net = HandFinderNet(config)
    else:
        try:  # a float32 net with the starting finder's config, whatever precision its file holds
            net = HandFinder.load(None if args.init == "default" else args.init).net.train()
        except (FileNotFoundError, CheckpointError) as exc:
            print(f"error: --init {args.init}: {exc}", file=sys.stderr)
            return 2
        config = net.config
        print(f"initialised from {args.init}", file=sys.stderr)
    # channels-last convolutions train about 25 % faster on CPU (288 windows: 0.79 -> 0.60 s a step)
    net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    batches = FinderBatches(config, data, args.batch, args.seed, args.workers, args.ramp, mining_canvases=args.mine)
    mining = MiningConfig(canvases=args.mine, keep=args.mine_keep)

    def objective(model: HandFinderNet, batch: FinderBatch) -> dict[str, torch.Tensor]:
        images, targets = batch.images, batch.targets
        mined = hard_negatives(model, batch.mine, config, mining) if batch.mine else None
        if mined is not None:
            images, targets = torch.cat([images, mined[0]]), join_targets([targets, mined[1]])
        return finder_loss(*model(images.contiguous(memory_format=torch.channels_last)), targets)

    parts = TrainerParts(net, objective, optimizer, batches,
                         phase="hand_finder", extra_meta={"finder_config": config.to_dict(), "batch": args.batch})
    trainer = Trainer(parts, TrainerConfig(max_steps=10**9, log_every=10, checkpoint_every=0, grad_clip=10.0,
                                           seed=args.seed, checkpoint_dir=str(args.out)))
    if args.resume and last.exists():
        trainer.load_checkpoint(last)
        print(f"resumed {last} at step {trainer.step} ({trainer.elapsed_s / 60:.1f} min)", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    print("rendering the held-out composites...", file=sys.stderr)
    validation = validation_set(data, args.validation)
    total_s, every_s = 60.0 * args.minutes, 60.0 * args.checkpoint_minutes
    next_checkpoint, next_line = trainer.elapsed_s + every_s, time.perf_counter()
    curve_path = args.out / "curve.jsonl"

    def checkpoint() -> None:
        trainer.save_checkpoint()
        save_finder(args.out / "hand_finder.safetensors", net, trainer.step)
        net.eval()
        scores = render_recall(HandFinder(net, threads=None), validation)
        net.train()
        row = {"step": trainer.step, "minutes": round(trainer.elapsed_s / 60, 2), **scores}
        with curve_path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        print(f"checkpoint step {trainer.step}: held-out composites {scores['found']:.1%} of {scores['hands']} hands "
              f"found, side right {scores['side_right']:.1%}, {scores['extra_per_image']:.2f} extra boxes per image",
              file=sys.stderr, flush=True)

    steps = trainer.steps()
    while trainer.elapsed_s < total_s:
        for group in optimizer.param_groups:
            group["lr"] = _lr(args.lr, trainer.elapsed_s, total_s, trainer.step)
        report = next(steps)
        if report.logged and time.perf_counter() >= next_line:
            next_line = time.perf_counter() + 30.0
            terms = " ".join(f"{k} {v:.3f}" for k, v in sorted(report.losses.items()))
            print(f"step {report.step} {terms} | {report.samples_per_s:.1f} img/s | "
                  f"{report.elapsed_s / 60:.1f} of {args.minutes:g} min", file=sys.stderr, flush=True)
        if trainer.elapsed_s >= next_checkpoint:
            next_checkpoint += every_s
            checkpoint()
    steps.close()
    if not curve_path.exists() or json.loads(curve_path.read_text().splitlines()[-1])["step"] != trainer.step:
        checkpoint()
    print(f"wrote {args.out / 'hand_finder.safetensors'}; to bundle it: python -m train.bundle finder "
          f"{args.out / 'hand_finder.safetensors'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
