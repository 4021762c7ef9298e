"""The dVAE's two training steps on the tiny config with synthetic data: both losses fall, the
embedding step trains what it should, and a cancelled run resumes to the same weights."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from core.models import DVAE, DisentangleObjective, EmbeddingObjective
from train.config import FitConfig, load_fit_config
from train.distributed import DistContext
from train.fit import FitRun
from train.fit_data import labelled_source
from train.schedule import PhasedRun, ScheduleConfig, two_step_phases
from train.sources import IndexedBatches

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.toml"


@pytest.fixture(autouse=True)
def one_thread():
    # two OpenMP threads on 2 shared cores are 10-30x slower than one when the machine is busy
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_both_training_steps_lower_their_objective() -> None:
    config = load_fit_config(TINY)
    source = labelled_source(config.data, config.model.image_size, 0, 4, DistContext(), torch.device("cpu"))
    pool = [next(source) for _ in range(2)]  # a small fixed pool: learning shows within a few steps
    torch.manual_seed(0)
    model = DVAE(config.model)
    disentangle, embed = DisentangleObjective(config.disentangle), EmbeddingObjective(config.embed)

    def objective_value(objective) -> float:
        with torch.no_grad():
            return objective(model, pool[0], generator=torch.Generator().manual_seed(0))["total"].item()

    def cycle():
        return IndexedBatches(lambda k: pool[k % len(pool)])

    steps = 12
    phases = two_step_phases(ScheduleConfig(steps, steps), disentangle, embed, cycle, cycle)
    run = PhasedRun(model, phases, replace(config.optimizer, lr=3e-3),
                    replace(config.trainer, device="cpu", eval_every=0, checkpoint_every=0))
    start = objective_value(disentangle)
    for report in run.steps():
        if report.phase == "disentangle" and report.step == steps:
            after_disentangle = objective_value(disentangle)
            embed_start = objective_value(embed)
            label_encoder = model.pose_encoder.state_dict()
            decoder = {k: v.clone() for k, v in model.image_decoder.state_dict().items()}
    assert after_disentangle < 0.9 * start
    assert objective_value(embed) < 0.9 * embed_start
    # embedding step: label encoders frozen (lr scale 0), decoders fine-tuned (lr scale 0.1)
    assert all(torch.equal(v, model.pose_encoder.state_dict()[k]) for k, v in label_encoder.items())
    assert any(not torch.equal(v, model.image_decoder.state_dict()[k]) for k, v in decoder.items())


def small_run_config() -> FitConfig:
    config = load_fit_config(TINY)
    config.data.batch_size = 4
    config.schedule = ScheduleConfig(3, 3)
    config.trainer = replace(config.trainer, device="cpu", eval_every=0, checkpoint_every=0, log_every=1)
    return config


def test_cancelled_synthetic_run_resumes_to_the_same_weights(tmp_path) -> None:
    straight = FitRun(small_run_config(), tmp_path / "straight")
    for _ in straight.steps():
        pass

    cancelled = FitRun(small_run_config(), tmp_path / "resumed")
    steps = cancelled.steps()
    for report in steps:
        if (report.phase, report.step) == ("embed", 1):
            break
    steps.close()
    resumed = FitRun(small_run_config(), tmp_path / "resumed")
    reports = [(r.phase, r.step) for r in resumed.steps()]
    assert reports == [("embed", 2), ("embed", 3)]
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
