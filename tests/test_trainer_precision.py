"""Which precision a training phase computes in: float32 on the CPU unless bfloat16 is asked for
and the CPU has it natively (elsewhere emulated bf16 is slower than float32)."""
from __future__ import annotations

import torch

from train.loop import trainer
from train.loop.trainer import pick_amp_dtype


def test_cpu_training_stays_float32_unless_bf16_is_asked_for():
    assert pick_amp_dtype(torch.device("cpu"), amp=True) is None
    assert pick_amp_dtype(torch.device("cpu"), amp=False, cpu_bf16=True) is None


def test_bf16_is_used_on_a_cpu_that_has_it_and_float32_on_one_that_lacks_it(monkeypatch):
    monkeypatch.setattr(trainer, "cpu_has_bf16", lambda: True)
    assert pick_amp_dtype(torch.device("cpu"), amp=True, cpu_bf16=True) is torch.bfloat16
    monkeypatch.setattr(trainer, "cpu_has_bf16", lambda: False)
    assert pick_amp_dtype(torch.device("cpu"), amp=True, cpu_bf16=True) is None


def test_cpu_has_bf16_answers_without_failing():
    from core.precision import cpu_has_bf16

    assert isinstance(cpu_has_bf16(), bool)


def test_a_bf16_decode_gives_the_float32_image_to_a_few_levels_or_the_same_without_native_bf16():
    import numpy as np

    from core.api import HandModel
    from core.models import DVAEConfig

    model = HandModel.untrained(DVAEConfig.tiny(), seed=2)
    z = np.random.default_rng(0).normal(size=(2, model.layout.dim)).astype(np.float32)
    full = model.decode(z).astype(int)
    model.bf16_decode = True
    fast = model.decode(z).astype(int)
    assert fast.dtype == full.dtype and fast.shape == full.shape
    assert np.abs(fast - full).mean() < 2.0 and np.abs(fast - full).max() <= 16
