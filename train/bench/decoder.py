"""The image decoder's speed: synthesis against a plain convolutional decoder, and a training step
in float32 against bfloat16.

- ``decode_ms_p50``: p50 wall time of one latent -> one image through the bundled model's decoder
  (``DVAE.decode_image``: label decoders, skeleton maps, the decoder) on the API's thread count,
  channels-last; ``decode_plain_ms_p50`` the paper's plain decoder (``ImageDecoder``, the same
  widths and output size), measured in the same run; their ratio as a table row.
- ``decoder_step_ms_fp32`` / ``decoder_step_ms_bf16``: one training step of the bundled decoder's
  recipe (``configs/bundled/09_decoder_128.toml``: batch 32 of 128 px renders, label networks and image
  encoder frozen) with torch's thread count, in float32 and in bfloat16 autocast; bf16 only where
  the CPU has it natively (``train.loop.trainer.cpu_has_bf16``; the row says so where it has not).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from core.api import DEFAULT_MODEL_PATH, INFERENCE_THREADS, HandModel
from core.data.synthetic import SyntheticConfig, SyntheticRenderer
from core.models import DVAE, DisentangleObjective
from train.bench import BenchRow
from train.bench.model import latency_ms
from train.config import load_fit_config
from core.precision import cpu_has_bf16

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "bundled" / "09_decoder_128.toml"


def decode_rows(repeats: int) -> list[BenchRow]:
    model = HandModel.load() if DEFAULT_MODEL_PATH.exists() else HandModel.untrained(load_fit_config(RECIPE).model)
    size = model.config.output_size
    plain_config = dataclasses.replace(model.config, image_size=size, decoder_image_size=0, decoder_pose_maps=False,
                                       decoder_compositing=False, encoder_widths=(32,) * 6, content_widths=(16,) * 6)
    plain = DVAE(plain_config).eval().to(memory_format=torch.channels_last)
    z = torch.zeros(1, model.layout.dim)
    threads = torch.get_num_threads()
    torch.set_num_threads(INFERENCE_THREADS)
    try:
        with torch.no_grad():
            guided_ms, _ = latency_ms(lambda: model.model.decode_image(z), repeats)
            plain_ms, _ = latency_ms(lambda: plain.decode_image(z), repeats)
    finally:
        torch.set_num_threads(threads)
    return [BenchRow(f"decode, 1 latent -> {size} px image, bundled pose-guided decoder, p50", guided_ms, "ms",
                     "decode_ms_p50"),
            BenchRow("decode, same, plain convolutional decoder of the same widths and size, p50", plain_ms, "ms",
                     "decode_plain_ms_p50"),
            BenchRow("decode, pose-guided / plain (target <= 1.5)", guided_ms / plain_ms, "x")]


def step_ms(model: DVAE, objective: DisentangleObjective, batch, bf16: bool, steps: int) -> float:
    optimizer = torch.optim.AdamW(objective.param_groups(model, 1e-4))
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            terms = objective(model, batch)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return 1000.0 * float(np.median(times[1:]))


def training_rows(quick: bool) -> list[BenchRow]:
    config = load_fit_config(RECIPE)
    model = DVAE(config.model).train()
    objective = DisentangleObjective(config.disentangle)
    renderer = SyntheticRenderer(SyntheticConfig.at_size(config.model.output_size))
    batch = renderer.render(list(range(config.data.batch_size)), 0).batch
    steps = 2 if quick else 5
    label = f"decoder training step, {config.model.output_size} px recipe, batch {config.data.batch_size}, " \
            f"{torch.get_num_threads()} threads"
    rows = [BenchRow(f"{label}, float32, p50", step_ms(model, objective, batch, False, steps), "ms",
                     "decoder_step_ms_fp32")]
    if cpu_has_bf16():
        rows.append(BenchRow(f"{label}, bfloat16 autocast, p50", step_ms(model, objective, batch, True, steps), "ms",
                             "decoder_step_ms_bf16"))
    else:
        rows.append(BenchRow(f"{label}, bfloat16: this CPU has no native bf16, training stays float32", 0.0, ""))
    return rows


def run(quick: bool = False) -> list[BenchRow]:
    return decode_rows(repeats=10 if quick else 40) + training_rows(quick)
