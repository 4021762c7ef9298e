"""``torchrun --nproc_per_node=2 -m train.fit`` on 2 CPU processes (gloo), as a user launches DDP."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from core.api import HandModel

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_torchrun_two_cpu_processes_train_the_tiny_config(tmp_path) -> None:
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on PATH")
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", "-m", "train.fit",
         "--config", "configs/tiny.toml", "--out", str(out), "--device", "cpu", "--no-progress"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    # Only rank 0 writes: one log row per logged step, not one per process.
    for phase in ("disentangle", "embed"):
        with open(out / f"losses_{phase}.csv") as f:
            steps = [int(row["step"]) for row in csv.DictReader(f)]
        assert steps == [2, 4, 6, 8]
    model = HandModel.load(out / "model.safetensors")
    assert model.image_size == 64
