"""train.fit end to end on a tiny FreiHAND-layout folder: logs, grids, checkpoints, a loadable model."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from core.api import HandModel
from core.data.loaders import write_freihand_layout
from tests.data_builders import camera_hand, intrinsics, project, skeleton_image
from train.loop.checkpointing import read_trainer_meta
from train.config import load_fit_config
from train.fit import FitRun, main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def freihand_folder(root: Path, count: int = 12, size: int = 96) -> Path:
    K = intrinsics(150.0, size / 2, size / 2)
    hands = [camera_hand(seed=i, turn=0.2 * i) for i in range(count)]
    images = [skeleton_image((size, size), project(K, hand), seed=i)[:, :, ::-1] for i, hand in enumerate(hands)]
    write_freihand_layout(root, "training", images, np.stack([K] * count), np.stack(hands) / 1000.0)
    return root


def tiny_config(tmp_path: Path, source: str, steps: int = 3) -> Path:
    text = (CONFIGS / "tiny.toml").read_text()
    text = text.replace('source = "synthetic"', f'source = "{source}"')
    text = text.replace("disentangle_steps = 8", f"disentangle_steps = {steps}")
    text = text.replace("embed_steps = 8", f"embed_steps = {steps}")
    text = text.replace("batch_size = 8", "batch_size = 4").replace("eval_every = 4", "eval_every = 2")
    path = tmp_path / "tiny_freihand.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two OpenMP threads on 2 busy cores are many times slower
    tmp_path = tmp_path_factory.mktemp("fit")
    folder = freihand_folder(tmp_path / "freihand")
    out = tmp_path / "run"
    assert main(["--config", str(tiny_config(tmp_path, f"freihand:{folder}")), "--out", str(out),
                 "--device", "cpu", "--no-progress"]) == 0
    torch.set_num_threads(threads)
    return out


@pytest.mark.slow
def test_fit_writes_logs_grids_checkpoints_and_a_loadable_model(finished_run) -> None:
    out = finished_run
    for phase in ("disentangle", "embed"):
        with open(out / f"losses_{phase}.csv") as f:
            rows = list(csv.DictReader(f))
        assert [int(r["step"]) for r in rows] == [2, 3]
        assert "total" in rows[0] and "image" in rows[0] and float(rows[-1]["total"]) > 0
        assert read_trainer_meta(out / "checkpoints" / phase / "last.safetensors")["step"] == 3
        grids = sorted((out / "grids").glob(f"{phase}_*.png"))
        assert [g.name for g in grids] == [f"{phase}_0000002.png", f"{phase}_0000003.png"]
    assert "match_pose" in open(out / "losses_embed.csv").readline()
    assert any((out / "tensorboard").glob("events.out.tfevents.*"))
    assert (out / "config.toml").is_file()
    model = HandModel.load(out / "model.safetensors")
    assert model.image_size == 64
    assert model.meta.extra["finished"] is True and model.meta.step == 6
    estimate = model.estimate(np.zeros((1, 64, 64, 3), np.uint8))
    assert estimate.keypoints_3d.shape == (1, 21, 3)


@pytest.mark.slow
def test_fit_refuses_to_overwrite_a_run_and_resumes_a_finished_one(finished_run, capsys) -> None:
    assert main(["--config", str(finished_run / "config.toml"), "--out", str(finished_run)]) == 2
    assert "--resume" in capsys.readouterr().err
    before = (finished_run / "losses_embed.csv").read_text()
    assert main(["--resume", str(finished_run), "--device", "cpu", "--no-progress"]) == 0
    assert (finished_run / "losses_embed.csv").read_text() == before


def test_fit_reports_a_bad_config_by_name(tmp_path, capsys) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[data]\nbach_size = 3\n")
    assert main(["--config", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "bad.toml [data]: unknown key(s) ['bach_size']" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["--config", str(CONFIGS / "tiny.toml"), "--out", str(tmp_path / "run"), "--device", "cuda"]) == 2
    assert "torch sees no CUDA GPU" in capsys.readouterr().err


def fine_tune_config(tmp_path: Path, finished_run: Path, weights: Path) -> Path:
    text = (finished_run / "config.toml").read_text()
    text = text.replace("disentangle_steps = 3", "disentangle_steps = 0").replace("embed_steps = 3", "embed_steps = 2")
    path = tmp_path / "fine_tune.toml"
    path.write_text(text + f'\n[init]\nweights = "{weights}"\n')
    return path


@pytest.mark.slow
def test_a_run_with_init_weights_starts_from_that_model_and_fine_tunes_it(finished_run, tmp_path) -> None:
    trained = finished_run / "model.safetensors"
    config = load_fit_config(fine_tune_config(tmp_path, finished_run, trained))
    start = FitRun(config, tmp_path / "unused").model.state_dict()
    expected = HandModel.load(trained).model.state_dict()
    assert all(torch.equal(start[name], expected[name]) for name in expected)

    out = tmp_path / "fine_tuned"
    assert main(["--config", str(fine_tune_config(tmp_path, finished_run, trained)), "--out", str(out),
                 "--device", "cpu", "--no-progress"]) == 0
    tuned = HandModel.load(out / "model.safetensors")
    assert tuned.meta.extra["finished"] is True and tuned.meta.step == 2
    assert not all(torch.equal(tuned.model.state_dict()[n], expected[n]) for n in expected)


def test_init_weights_of_another_architecture_are_a_clear_error(finished_run, tmp_path, capsys) -> None:
    config = fine_tune_config(tmp_path, finished_run, finished_run / "model.safetensors")
    config.write_text(config.read_text().replace("mlp_hidden = ", "mlp_hidden = 1"))
    assert main(["--config", str(config), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "[init] weights" in err and "another architecture" in err and "mlp_hidden" in err
