"""The experiments of docs/results.md in one command.

    python -m train.experiments --out docs/ [--budget-steps N] [--quick] [--work runs/experiments]

1. dVAE vs. direct regression vs. the cross-modal VAE (Spurr et al.), equal budget, same
   synthetic stream, evaluated on the fixed synthetic test set (seed 12345);
2. semi-supervised: a fixed 10 % labelled + 90 % unlabelled vs. the same 10 % alone (dVAE);
3. weakly supervised: the 90 % with 2D keypoints only vs. left out (dVAE);
4. synthesis pose fidelity (direct regression judging dVAE syntheses);
5. disentanglement (background swaps in the input; block swaps in the dVAE's latent);
6. pictures: reconstructions, latent walks per block, pose transfers, PCK curves.

Writes ``<out>/results.md`` and ``<out>/img/results_*.png``; the trained models go to
``<work>/<name>.safetensors`` (each readable by ``python -m train.evaluate``). ``--quick`` is a
smoke test that runs in minutes on a CPU (tiny 32 px networks, small budget and test set).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import torch

from core.cli_args import Parser, count, seed
from core.models import DVAEConfig
from train.experiments import figures
from train.evaluate.synthetic import EvaluationSet, evaluate, open_evaluation_set
from train.experiments.data import (
    TEST_SEED,
    TRAIN_SEEDS,
    PoolSplit,
    SyntheticPool,
    labelled_pool_data,
    materialise,
    same_hand_pairs,
    stream_data,
    test_batches,
)
from train.experiments.breakdown import error_breakdown
from train.experiments.probe import content_swap, latent_swaps, synthesis_fidelity
from train.experiments.report import Evaluated, ExperimentResults, write_report
from train.experiments.training import TrainedModel, TrainingSetup, train_crossmodal, train_direct_regression, train_dvae

NETWORK_PRESETS = ("tiny", "small", "default")


def network_preset(name: str) -> DVAEConfig:
    """The ``DVAEConfig`` preset ``name``: "tiny" (32 px), "small" (64 px) or "default" (128 px)."""
    if name == "tiny":
        return DVAEConfig.tiny()
    if name == "small":
        return DVAEConfig.small()
    if name == "default":
        return DVAEConfig()
    raise ValueError(f"network must be one of {NETWORK_PRESETS}, got {name!r}")


@dataclass
class ExperimentConfig:
    """Every knob of the experiments (the CLI's flags)."""

    out: Path = Path("runs/experiments/report")  # docs/ only when asked: --out docs
    work: Path = Path("runs/experiments")
    network: str = "default"            # "tiny" (32 px), "small" (64 px) or "default" (128 px)
    budget_steps: int = 4000            # optimisation steps per model
    batch_size: int = 32
    test_count: int = 2000              # synthetic test samples (seed TEST_SEED)
    pool_size: int = 20_000             # training pool of the semi/weak experiments
    labelled_fraction: float = 0.1
    probe_count: int = 256              # test samples used by the fidelity/disentanglement probes
    seed: int = 0                       # training seed, inside TRAIN_SEEDS
    device: str = "auto"
    quick: bool = False

    @classmethod
    def quick_defaults(cls, **overrides) -> "ExperimentConfig":
        """Minutes on a CPU: tiny networks, a tiny budget and test set."""
        base = dict(network="tiny", budget_steps=20, batch_size=8, test_count=48, pool_size=80, probe_count=16,
                    quick=True)
        base.update(overrides)
        return cls(**base)

    def __post_init__(self) -> None:
        network_preset(self.network)  # validates the name
        if self.seed not in TRAIN_SEEDS or self.seed + 3 not in TRAIN_SEEDS:
            raise ValueError(f"training seed {self.seed} (and seed + 3) must lie in {TRAIN_SEEDS}")
        if self.budget_steps < 2:
            raise ValueError(f"budget_steps must be >= 2 (the dVAE has two steps), got {self.budget_steps}")


def slug(name: str) -> str:
    """A file name from a model's display name: "dVAE, 10% labelled alone" -> "dvae_10pct_labelled_alone"."""
    text = name.lower().replace("%", "pct")
    return "_".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def machine_description(device: str) -> str:
    cpu = platform.processor() or platform.machine()
    text = f"{platform.system()} {platform.release()}, {os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__}"
    if device.startswith("cuda") and torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name(0)}"
    return text + f", trained on {device}"


class Experiments:
    """Runs every experiment of one ``ExperimentConfig``; ``run()`` returns the results."""

    def __init__(self, config: ExperimentConfig, command: str, log=print) -> None:
        self.config, self.command, self.log = config, command, log
        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if config.device == "auto" else config.device
        self.network = network_preset(config.network)
        size = self.network.image_size
        self.setup = TrainingSetup(network=self.network, steps=config.budget_steps, batch_size=config.batch_size,
                                   device=self.device, seed=config.seed, progress=sys.stderr.isatty(),
                                   progress_lines=not sys.stderr.isatty())
        rendered = open_evaluation_set("synthetic", "evaluation", size, config.test_count, TEST_SEED)
        # rendered once, evaluated six times
        self.test_set: EvaluationSet = replace(rendered, dataset=materialise(rendered.dataset))
        self.pairs = same_hand_pairs(size, min(config.probe_count, config.test_count), config.batch_size)
        self.probe = [first for first, _ in self.pairs]

    def evaluated(self, trained: TrainedModel) -> Evaluated:
        self.log(f"[experiments] {trained.name}: trained {trained.steps} steps in {trained.seconds:.0f} s; evaluating")
        metrics = evaluate(trained.estimator, self.test_set, batch_size=64).metrics
        path = trained.save(self.config.work / f"{slug(trained.name)}.safetensors")
        self.log(f"[experiments] {trained.name}: EPE {metrics.epe_mean_mm:.2f} mm, AUC20-50 {metrics.auc_20_50:.3f}")
        return Evaluated(trained, metrics, path)

    def run(self) -> ExperimentResults:
        c, start = self.config, time.perf_counter()
        results = ExperimentResults(command=self.command, machine=machine_description(self.device),
                                    date=datetime.date.today().isoformat(), setup_lines=self.setup_lines())
        stream = stream_data(self.network.image_size, c.batch_size, c.seed, self.device)
        dvae = self.evaluated(train_dvae(self.setup, stream))
        direct = self.evaluated(train_direct_regression(self.setup, stream))
        crossmodal = self.evaluated(train_crossmodal(self.setup, stream))
        results.main = [dvae, direct, crossmodal]
        test = test_batches(self.test_set.dataset, len(self.test_set.dataset), 64)
        results.breakdown = {e.trained.name: error_breakdown(e.trained.model, test) for e in results.main}
        results.dvae_embed_steps = self.setup.dvae_schedule.embed_steps

        render = SyntheticPool(self.network.image_size, c.pool_size, c.seed + 2).renderer(self.device)
        split = PoolSplit.fixed(c.pool_size, c.labelled_fraction, c.seed + 3)

        def pool_run(rest: str, name: str) -> Evaluated:
            data = labelled_pool_data(render, split, rest, c.batch_size, c.seed)
            return self.evaluated(train_dvae(self.setup, data, name=f"dVAE, {split.percent}% {name}"))

        alone = pool_run("absent", "labelled alone")
        semi = pool_run("unlabelled", "labelled + rest unlabelled")
        weak = pool_run("2d", "3D + rest 2D only")
        results.semi, results.weak = [alone, semi], [alone, weak]

        self.log("[experiments] probes: synthesis fidelity, disentanglement")
        dvae_model, judge = dvae.trained.model, direct.trained.model
        fidelity = synthesis_fidelity(dvae_model, judge, self.probe)
        results.fidelity = {"test renders": fidelity["renders"], "dVAE syntheses of the same poses": fidelity["syntheses"]}
        results.background = content_swap({e.trained.name: e.trained.estimator for e in results.main}, self.pairs)
        results.latent = {"direct regression (independent)": latent_swaps(dvae_model, judge, self.probe),
                          "dVAE itself": latent_swaps(dvae_model, dvae_model, self.probe)}
        results.figures = self.pictures(dvae_model, results)
        results.seconds = time.perf_counter() - start
        return results

    def pictures(self, dvae_model, results: ExperimentResults) -> list[tuple[str, str]]:
        first, tile = self.probe[0], max(64, self.network.image_size)
        drawings = {
            "results_reconstructions.png": ("Test renders, their dVAE reconstructions, and dVAE syntheses from the "
                                            "test labels", figures.reconstructions(dvae_model, first, tile=tile)),
            "results_latent_walks.png": ("Latent walks: one block at a time moves from sample A's value to B's",
                                         figures.latent_walks(dvae_model, first, tile=tile)),
            "results_pose_transfer.png": ("Pose transfer: pose and viewpoint of each row, content of each column",
                                          figures.pose_transfers(dvae_model, first, tile=tile)),
            "results_pck.png": ("PCK curves on the synthetic test set (section 1)",
                                figures.pck_curves({e.trained.name: e.metrics for e in results.main})),
        }
        out = []
        for name, (caption, image) in drawings.items():
            figures.save_png(image, self.config.out / "img" / name)
            out.append((caption, f"img/{name}"))
        return out

    def setup_lines(self) -> list[str]:
        c, n = self.config, self.network
        return [
            f"Budget per model: {c.budget_steps} optimisation steps x batch {c.batch_size} = "
            f"{c.budget_steps * c.batch_size:,} samples (the dVAE: {self.setup.dvae_split:.0%} disentangling, "
            "the rest embedding; baselines: one phase).",
            f"Networks: `DVAEConfig` preset '{c.network}' ({n.image_size} px crops, latent {n.latent_dim} = "
            f"{dict(zip(n.layout.names, n.layout.sizes))}); optimiser AdamW lr {self.setup.optimizer.lr}, "
            f"warm-up then cosine decay. Label terms of every model: `{self.setup.labels}`.",
            f"Training data: synthetic renders from the training seed range {TRAIN_SEEDS.start}.."
            f"{TRAIN_SEEDS.stop - 1}: section 1 streams seed {c.seed} (the dVAE's embedding step seed {c.seed + 1}, "
            f"so it sees as many, equally distributed, samples); sections 2-3 draw from a fixed pool of "
            f"{c.pool_size:,} samples of seed {c.seed + 2}, the labelled subset chosen by seed {c.seed + 3}.",
            f"Test data: the fixed synthetic test set, seed {TEST_SEED}, {c.test_count:,} samples (never trained on); "
            f"probes use its first {min(c.probe_count, c.test_count)}.",
            f"Trained models: `{c.work}/*.safetensors` (each evaluates with `python -m train.evaluate`).",
        ] + self.caveats()

    def caveats(self) -> list[str]:
        c = self.config
        if c.quick:
            return ["**Quick smoke-test mode: these numbers mean nothing.**"]
        if c.network == "tiny" or c.budget_steps < 2000:
            return ["**Preliminary: a small budget and/or tiny networks (a CPU run). Differences of a few mm "
                    "between rows here are not evidence either way; rerun with the full budget.**"]
        return []


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m train.experiments", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ExperimentConfig.out,
                        help="folder of results.md and img/ (default runs/experiments/report; --out docs replaces the README's)")
    parser.add_argument("--work", type=Path, default=Path("runs/experiments"), help="folder of the trained models")
    parser.add_argument("--budget-steps", type=count(10_000_000), help="optimisation steps per model (default 4000; quick 20)")
    parser.add_argument("--batch-size", type=count(4096))
    parser.add_argument("--network", choices=NETWORK_PRESETS, help="network preset (default 'default'; quick 'tiny')")
    parser.add_argument("--test-count", type=count(1_000_000))
    parser.add_argument("--pool-size", type=count(10_000_000))
    parser.add_argument("--seed", type=seed)
    parser.add_argument("--device", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=count(256), help="torch CPU threads (1 is fastest for tiny networks on a busy CPU)")
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny networks, budget and test set")
    return parser


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    overrides = {k: v for k, v in dict(out=args.out, work=args.work, budget_steps=args.budget_steps,
                                       batch_size=args.batch_size, network=args.network, test_count=args.test_count,
                                       pool_size=args.pool_size, seed=args.seed, device=args.device).items()
                 if v is not None}
    return ExperimentConfig.quick_defaults(**overrides) if args.quick else ExperimentConfig(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    command = "python -m train.experiments " + " ".join(shlex.quote(a) for a in argv)
    results = Experiments(config, command, log=lambda text: print(text, file=sys.stderr)).run()
    path = write_report(results, config.out / "results.md")
    print(f"wrote {path}")
    return 0

