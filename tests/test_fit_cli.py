"""``python -m train.fit --config configs/tiny.toml`` as a user runs it: logs, grids, a loadable model."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from core.api import HandModel

ROOT = Path(__file__).resolve().parents[1]


def run_fit(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # 2 busy cores: one thread is far faster
    return subprocess.run([sys.executable, "-m", "train.fit", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_help_lists_the_options() -> None:
    result = run_fit("--help", timeout=60)
    assert result.returncode == 0
    for option in ("--config", "--resume", "--out", "--device"):
        assert option in result.stdout


@pytest.mark.slow
def test_tiny_config_end_to_end(tmp_path) -> None:
    out = tmp_path / "tiny"
    result = run_fit("--config", "configs/tiny.toml", "--out", str(out), "--device", "cpu", "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "model written to" in result.stdout
    # --no-progress: plain progress lines for logs, from the first step to the last of each phase
    for line in ("train.fit: disentangle step 1/8 | ", "train.fit: embed step 8/8 | total "):
        assert line in result.stderr, result.stderr[-2000:]
    assert "samples/s" in result.stderr and " left" in result.stderr
    for phase in ("disentangle", "embed"):
        with open(out / f"losses_{phase}.csv") as f:
            steps = [int(row["step"]) for row in csv.DictReader(f)]
        assert steps == [2, 4, 6, 8]
        for step in (4, 8):
            grid = cv2.imread(str(out / "grids" / f"{phase}_{step:07d}.png"))
            assert grid is not None and grid.shape[0] >= 5 * 96
        assert (out / "checkpoints" / phase / "last.safetensors").is_file()
    assert any((out / "tensorboard").glob("events.out.tfevents.*"))
    model = HandModel.load(out / "model.safetensors")
    assert model.image_size == 64 and model.meta.step == 16 and model.meta.extra["finished"]
    assert model.meta.extra["fit_config"]["schedule"] == {"disentangle_steps": 8, "embed_steps": 8}
    assert [(s["config"], s["disentangle_steps"]) for s in model.recipe] == [("configs/tiny.toml", 8)]
