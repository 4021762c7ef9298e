"""Renderer throughput: labelled synthetic images per second, everything included.

Each figure times ``SyntheticBatchSource`` batches of 64 (pose, shape, viewpoint and appearance
sampling, skinning, splatting, shading, background, compositing, augmentation) after one
warm-up batch, at 64, 128 and 256 px, on the CPU and on CUDA when present, plus the 128 px rate
per CPU-second of one thread (process time: what the code costs, whatever else runs). Peak memory: the
growth of the process's maximum resident set on the CPU (``ru_maxrss``), and
``torch.cuda.max_memory_allocated`` on CUDA. On the shared 2-core machine figures are rough.
"""
from __future__ import annotations

import resource
import time

import torch

from core.data.synthetic import SyntheticBatchSource, SyntheticConfig
from train.bench import BenchRow

SIZES = (64, 128, 256)
BATCH = 64


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def images_per_second(size: int, device: str = "cpu", batches: int = 4, batch_size: int = BATCH) -> tuple[float, float]:
    """(images/s, peak memory MiB) of the synthetic pipeline at ``size`` px on ``device``."""
    torch.set_flush_denormal(True)
    source = SyntheticBatchSource(SyntheticConfig.at_size(size), seed=0, batch_size=batch_size, device=device)
    next(source)  # warm-up: bake cache, atlas, allocator
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    rss_before = _maxrss_mib()
    start = time.perf_counter()
    for _ in range(batches):
        batch = next(source)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = _maxrss_mib() - rss_before
    del batch
    return batches * batch_size / (time.perf_counter() - start), peak


def images_per_cpu_second(size: int, batches: int = 3, batch_size: int = BATCH) -> float:
    """Images per second of CPU time on ONE thread (process time): robust to other load on a
    shared machine; the two-core wall-clock rate is at most about twice this."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        source = SyntheticBatchSource(SyntheticConfig.at_size(size), seed=0, batch_size=batch_size)
        next(source)
        best = float("inf")
        for _ in range(batches):
            start = time.process_time()
            next(source)
            best = min(best, time.process_time() - start)
    finally:
        torch.set_num_threads(threads)
    return batch_size / best


def run(quick: bool = False) -> list[BenchRow]:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        for size in SIZES:
            batches = 1 if quick else (6 if size < 256 else 3)
            rate, peak = images_per_second(size, device, batches)
            key = f"render_img_s_{size}" if device == "cpu" else f"render_img_s_{size}_cuda"
            rows.append(BenchRow(f"render {size}px {device} (batch {BATCH})", rate, "img/s", key))
            rows.append(BenchRow(f"render {size}px {device} peak memory growth", peak, "MiB",
                                 None if device == "cpu" else f"render_peak_mib_{size}_cuda"))
    rate = images_per_cpu_second(128, 1 if quick else 3)
    rows.append(BenchRow("render 128px cpu, 1 thread, per CPU-second", rate, "img/s", "render_img_s_128_per_core"))
    return rows
