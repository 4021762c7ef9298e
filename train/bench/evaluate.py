"""Benchmarks of the evaluation pipeline and of the trainer's overhead.

- ``eval_img_s_cpu``: images per second of ``train.evaluate.synthetic.evaluate`` on the CPU, everything
  included (JPEG decoding, perspective crop, the image encoder's forward pass, metrics), on a
  FreiHAND-layout folder of 224x224 images written to a temporary folder; the bundled model
  (``--estimator encoder``) where it exists, else an untrained default-size dVAE (128 px).
- ``trainer_overhead_ratio``: samples/s of ``train.loop.trainer.Trainer`` divided by samples/s of a
  plain loop (objective, backward, optimizer step) over the same networks and the same
  in-memory batch; 1.0 means the trainer costs nothing, 0.9 that it costs 10 %.

Timings on a shared 2-core machine are rough; compare them only on the same machine.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from core.api import DEFAULT_MODEL_PATH, HandModel
from core.baselines import DVAEEstimator
from core.data.loaders import write_freihand_layout
from core.data.sample import APPEARANCE_DIM, HandBatch
from core.models import DVAE, DVAEConfig, EmbeddingObjective
from train.bench import BenchRow
from train.evaluate.synthetic import EvaluationSet, evaluate, open_evaluation_set
from train.loop.trainer import Trainer, TrainerConfig, TrainerParts


def _write_hands(root: Path, count: int, size: int = 224, seed: int = 0) -> None:
    """A FreiHAND-layout split of textured images with hands in front of the camera."""
    from core.hand.kinematics import forward_kinematics, mean_hand_shape

    rng = np.random.default_rng(seed)
    angles = torch.from_numpy(rng.uniform(0.0, 0.6, (count, 20))).float()
    joints, _ = forward_kinematics(angles, mean_hand_shape(count))
    hands = joints.double().numpy() * np.array([1.0, -1.0, -1.0]) + np.array([0.0, 40.0, 450.0])
    K = np.tile(np.array([[300.0, 0, size / 2], [0, 300.0, size / 2], [0, 0, 1]]), (count, 1, 1))
    images = [rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for _ in range(count)]
    write_freihand_layout(root, "evaluation", images, K, hands / 1000.0)


def eval_img_s_cpu(count: int = 64, batch_size: int = 32, config: DVAEConfig | None = None) -> float:
    """Evaluation throughput (images/s) of the full pipeline on the CPU: the bundled model's
    image encoder, or an untrained model of ``config`` when one is given or nothing is bundled."""
    torch.manual_seed(0)
    if config is None and DEFAULT_MODEL_PATH.exists():
        model = HandModel.load().model
    else:
        model = DVAE(config or DVAEConfig())
    estimator = DVAEEstimator(model.eval())
    with tempfile.TemporaryDirectory() as folder:
        _write_hands(Path(folder), count)
        evaluation_set: EvaluationSet = open_evaluation_set(f"freihand:{folder}", "evaluation", estimator.image_size)
        evaluate(estimator, evaluation_set, batch_size=batch_size, limit=batch_size)  # warm-up
        start = time.perf_counter()
        result = evaluate(estimator, evaluation_set, batch_size=batch_size)
        seconds = time.perf_counter() - start
    return result.metrics.n / seconds


def _fixed_batch(size: int, image_size: int) -> HandBatch:
    from core.hand.kinematics import forward_kinematics, mean_hand_shape

    g = torch.Generator().manual_seed(0)
    joints, _ = forward_kinematics(0.5 * torch.rand(size, 20, generator=g), mean_hand_shape(size))
    joints = joints.float() * torch.tensor([1.0, -1.0, -1.0]) + torch.tensor([0.0, 0.0, 400.0])
    return HandBatch(
        image=torch.rand(size, 3, image_size, image_size, generator=g), mask=torch.zeros(size, 1, image_size, image_size),
        keypoints_3d=joints, keypoints_2d=torch.zeros(size, 21, 2), visible=torch.ones(size, 21, dtype=torch.bool),
        K=torch.eye(3).expand(size, 3, 3).clone(), crop_rotation=torch.eye(3).expand(size, 3, 3).clone(),
        is_left=torch.zeros(size, dtype=torch.bool), content=torch.rand(size, 3, image_size, image_size, generator=g),
        appearance=torch.rand(size, APPEARANCE_DIM, generator=g), has_3d=torch.ones(size, dtype=torch.bool),
        has_2d=torch.ones(size, dtype=torch.bool), has_content=torch.ones(size, dtype=torch.bool),
        index=torch.arange(size))


class _Repeat:
    """An endless source of one batch (no data cost: only the training step is timed)."""

    def __init__(self, batch: HandBatch) -> None:
        self.batch = batch

    def __iter__(self) -> "_Repeat":
        return self

    def __next__(self) -> HandBatch:
        return self.batch


def trainer_overhead_ratio(steps: int = 12, batch_size: int = 16, config: DVAEConfig | None = None) -> float:
    """Trainer samples/s over plain-loop samples/s, same model, objective and batch (step 2).

    The two loops advance one step at a time in turn (the trainer is a generator), and the
    ratio is taken between median step times, so load from other processes hits both alike.
    """
    config = config or DVAEConfig.small()
    batch = _fixed_batch(batch_size, config.image_size)
    objective = EmbeddingObjective()

    def fresh() -> tuple[DVAE, torch.optim.Optimizer]:
        torch.manual_seed(0)
        model = DVAE(config)
        return model, torch.optim.AdamW(objective.param_groups(model, 1e-3))

    plain_model, plain_optimizer = fresh()
    model, optimizer = fresh()
    warmup = 2
    trainer_config = TrainerConfig(max_steps=steps + warmup, log_every=steps + warmup, checkpoint_every=0, amp=False)
    reports = Trainer(TrainerParts(model, objective, optimizer, _Repeat(batch)), trainer_config).steps()
    plain_s, trainer_s = [], []
    for step in range(steps + warmup):
        start = time.perf_counter()
        _plain_step(plain_model, objective, plain_optimizer, batch)
        middle = time.perf_counter()
        next(reports)
        end = time.perf_counter()
        if step >= warmup:  # the first steps pay for allocations and kernel selection
            plain_s.append(middle - start)
            trainer_s.append(end - middle)
    reports.close()
    return float(np.median(plain_s) / np.median(trainer_s))  # equal samples per step: ratio of samples/s


def _plain_step(model: DVAE, objective: EmbeddingObjective, optimizer: torch.optim.Optimizer, batch: HandBatch) -> None:
    terms = objective(model, batch)
    optimizer.zero_grad(set_to_none=True)
    terms["total"].backward()
    optimizer.step()


def run(quick: bool = False) -> list[BenchRow]:
    """The rows of ``python -m train.bench`` (json keys ``eval_img_s_cpu``, ``trainer_overhead_ratio``)."""
    if quick:
        eval_rate = eval_img_s_cpu(count=16, batch_size=8)
        ratio = trainer_overhead_ratio(steps=3, batch_size=4, config=DVAEConfig.tiny())
    else:
        eval_rate, ratio = eval_img_s_cpu(), trainer_overhead_ratio()
    return [
        BenchRow(f"evaluation, CPU (JPEG + crop + {'the bundled' if DEFAULT_MODEL_PATH.exists() else 'a 128 px'} "
                 "model's image encoder + metrics)", eval_rate, "img/s", "eval_img_s_cpu"),
        BenchRow("trainer vs plain loop, samples/s (1 = no overhead)", ratio, "ratio", "trainer_overhead_ratio"),
    ]


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps({row.json_key: row.value for row in run(quick="--quick" in sys.argv)}))
