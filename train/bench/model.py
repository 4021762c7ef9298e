"""The model's speed: one-image latency of the API and the trainer's samples per second.

- ``synthesize_ms_p50``: p50 wall time of ``HandModel.synthesize`` (one pose -> one image at the
  model's output size) on the CPU with the API's settings (``core.api.INFERENCE_THREADS``,
  channels-last); ``estimate_ms_p50`` the same for ``HandModel.estimate`` (one crop at the model's
  input size -> pose, with its uncertainty samples). The bundled model when
  ``assets/default_model.safetensors`` exists, else an untrained default ``DVAEConfig``. Table-only rows: the same calls' p50 CPU time
  of the calling thread (less sensitive to other processes than wall time) and with 2 threads.
- ``train_samples_s_cpu`` (and ``train_samples_s_cuda`` when a GPU is visible): samples per
  second of ``train.fit.FitRun`` (both training steps, synthetic data rendered on the fly, the
  default config ``configs/default.toml`` at 128 px), over the steps after each phase's first,
  with torch's thread count (a table row repeats it with one thread).

Timings on the shared 2-core machines are rough; compare them only on the same machine.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from core.api import DEFAULT_MODEL_PATH, HandModel
from core.hand.kinematics import forward_kinematics, mean_hand_shape
from core.models import DVAEConfig
from train.bench import BenchRow
from train.config import FitConfig, load_fit_config
from train.loop.schedule import ScheduleConfig

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "default.toml"
CPU_TRAIN_BATCH = 16  # the default config's batch of 64 takes minutes per step on 2 CPU cores


def latency_ms(call: Callable[[], object], repeats: int, warmup: int = 5) -> tuple[float, float]:
    """(p50 wall ms, p50 CPU ms of the calling thread) of ``call`` after ``warmup`` calls."""
    for _ in range(warmup):
        call()
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.thread_time()
        call()
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return 1000.0 * float(np.median(wall)), 1000.0 * float(np.median(cpu))


def bench_model() -> tuple[HandModel, str]:
    """The bundled model (what the app and the API open by default), else an untrained default
    model; and which it is, with the sizes it reads and draws."""
    model, which = (HandModel.load(), "bundled model") if DEFAULT_MODEL_PATH.exists() else \
        (HandModel.untrained(), "untrained default model")
    return model, f"{which}, reads {model.image_size} px, draws {model.config.output_size} px"


def one_pose() -> np.ndarray:
    """(1, 21, 3) mm: a slightly bent right hand in front of the camera."""
    angles = torch.full((1, 20), 0.3)
    joints, _ = forward_kinematics(angles, mean_hand_shape(1))
    return (joints.float() * torch.tensor([1.0, -1.0, -1.0]) + torch.tensor([0.0, 0.0, 400.0])).numpy()


def api_rows(repeats: int) -> list[BenchRow]:
    """Latency rows of ``synthesize`` and ``estimate`` for one image."""
    model, which = bench_model()
    size = model.image_size
    pose = one_pose()
    image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    calls = {"synthesize": lambda: model.synthesize(pose), "estimate": lambda: model.estimate(image)}
    rows = []
    for name, call in calls.items():
        wall, cpu = latency_ms(call, repeats)
        rows.append(BenchRow(f"{name}, 1 image, CPU, {which}, p50", wall, "ms", f"{name}_ms_p50"))
        rows.append(BenchRow(f"{name}, same, p50 CPU time of the calling thread", cpu, "ms"))
    guided = HandModel.untrained(replace(DVAEConfig(), decoder_pose_maps=True, decoder_compositing=True))
    wall, _ = latency_ms(lambda: guided.synthesize(pose), repeats)
    rows.append(BenchRow(f"synthesize, 1 image {guided.image_size} px, CPU, untrained pose-guided model "
                         "(skeleton maps + compositing), p50", wall, "ms", "synthesize_pose_guided_ms_p50"))
    default_threads = model.threads
    model.threads = 2
    for name, call in calls.items():
        wall, _ = latency_ms(call, max(5, repeats // 5), warmup=2)
        rows.append(BenchRow(f"{name}, same, 2 threads (API uses {default_threads}), p50", wall, "ms"))
    model.threads = default_threads
    return rows


def fit_samples_per_s(config: FitConfig, steps: int) -> float:
    """Samples/s of ``FitRun`` over ``steps`` steps per training step, each phase's first step
    (allocation, kernel selection, renderer set-up) not counted."""
    from train.fit import FitRun

    config.schedule = ScheduleConfig(steps, steps)
    # no evaluations or checkpoints inside the timed steps (the run ends before its final ones)
    config.trainer = replace(config.trainer, eval_every=0, checkpoint_every=0, log_every=1)
    with tempfile.TemporaryDirectory() as folder:
        run = FitRun(config, Path(folder))
        reports = run.steps()
        seconds, samples, phase = 0.0, 0, None
        start = time.perf_counter()
        for report in reports:
            now = time.perf_counter()
            if report.phase == phase:
                seconds += now - start
                samples += config.data.batch_size
            phase = report.phase
            if report.phase == "embed" and report.step == steps - 1:
                break
            start = time.perf_counter()
        reports.close()
    return samples / seconds


def train_rows(quick: bool) -> list[BenchRow]:
    """``train_samples_s_cpu`` with torch's thread count (what ``python -m train.fit`` uses), a
    table row with one thread (on busy shared cores two threads are many times slower), and
    ``train_samples_s_cuda`` when a GPU is visible."""
    threads = torch.get_num_threads()
    cpu = load_fit_config(DEFAULT_CONFIG)
    cpu.data.batch_size = CPU_TRAIN_BATCH
    cpu.trainer = replace(cpu.trainer, device="cpu")
    steps = 3 if quick else 4
    rows = [BenchRow(f"train.fit, both steps, 128 px default model, CPU ({threads} threads), batch {CPU_TRAIN_BATCH}",
                     fit_samples_per_s(cpu, steps), "samples/s", "train_samples_s_cpu")]
    if not quick and threads != 1:
        torch.set_num_threads(1)
        try:
            rows.append(BenchRow("train.fit, same, 1 thread", fit_samples_per_s(cpu, steps), "samples/s"))
        finally:
            torch.set_num_threads(threads)
    if torch.cuda.is_available():
        gpu = load_fit_config(DEFAULT_CONFIG)
        gpu.trainer = replace(gpu.trainer, device="cuda")
        rows.append(BenchRow(f"train.fit, both steps, 128 px default model, CUDA, batch {gpu.data.batch_size}",
                             fit_samples_per_s(gpu, 6 if quick else 20), "samples/s", "train_samples_s_cuda"))
    return rows


def run(quick: bool = False) -> list[BenchRow]:
    """Rows of ``python -m train.bench`` (json keys ``synthesize_ms_p50``, ``estimate_ms_p50``,
    ``train_samples_s_cpu``, ``train_samples_s_cuda``), plus the load average as a table row."""
    rows = api_rows(repeats=20 if quick else 60) + train_rows(quick)
    rows.append(BenchRow("load average (1 min) when done, 2-core machine: other processes' share",
                         os.getloadavg()[0], ""))
    return rows
