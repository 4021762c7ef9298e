"""Phased training (the dVAE's two steps) on the toy problem: freezing, resume across phases."""
from __future__ import annotations

import torch

from tests.trainer_toys import ToyModel, toy_batch, toy_objective
from train.loop.checkpointing import read_trainer_meta
from train.loop.optim import OptimizerConfig
from train.loop.schedule import Phase, PhasedRun
from train.loop.sources import IndexedBatches
from train.loop.trainer import TrainerConfig


def all_params(model, lr):
    return [{"params": list(model.parameters()), "lr": lr}]


def last_layer(model, lr):
    return [{"params": list(model.net[-1].parameters()), "lr": lr}]


def make_run(run_dir=None) -> PhasedRun:
    torch.manual_seed(5)
    model = ToyModel(dropout=0.1)
    phases = [
        Phase("first", 6, toy_objective, lambda: IndexedBatches(lambda k: toy_batch(k, seed=1)), all_params),
        Phase("second", 6, toy_objective, lambda: IndexedBatches(lambda k: toy_batch(k, seed=2)), last_layer),
    ]
    return PhasedRun(model, phases, OptimizerConfig(lr=1e-2, warmup_steps=2),
                     TrainerConfig(log_every=2, checkpoint_every=0), run_dir)


def test_phases_run_in_order_and_freeze_what_they_do_not_train() -> None:
    run = make_run()
    reports = []
    first_layer_after_phase1 = None
    for report in run.steps():
        reports.append((report.phase, report.step))
        if report.phase == "first" and report.step == 6:
            first_layer_after_phase1 = run.model.net[0].weight.detach().clone()
            last_layer_after_phase1 = run.model.net[-1].weight.detach().clone()
    assert reports == [("first", s) for s in range(1, 7)] + [("second", s) for s in range(1, 7)]
    assert torch.equal(run.model.net[0].weight, first_layer_after_phase1)
    assert not torch.equal(run.model.net[-1].weight, last_layer_after_phase1)
    assert run.total_steps == 12


def test_resume_across_phases_is_exact(tmp_path) -> None:
    straight = make_run()
    for _ in straight.steps():
        pass

    for stop_phase, stop_step in (("first", 4), ("second", 2)):
        run_dir = tmp_path / f"{stop_phase}{stop_step}"
        cancelled = make_run(run_dir)
        steps = cancelled.steps()
        for report in steps:
            if (report.phase, report.step) == (stop_phase, stop_step):
                break
        steps.close()
        resumed = make_run(run_dir)
        seen = [(r.phase, r.step) for r in resumed.steps()]
        assert seen[0] == (stop_phase, stop_step + 1)
        for key, value in straight.model.state_dict().items():
            assert torch.equal(resumed.model.state_dict()[key], value), f"{key} after stop at {stop_phase}:{stop_step}"
        assert read_trainer_meta(run_dir / "checkpoints" / "second" / "last.safetensors")["step"] == 6


def test_a_finished_run_resumes_to_nothing(tmp_path) -> None:
    run = make_run(tmp_path)
    for _ in run.steps():
        pass
    again = make_run(tmp_path)
    assert list(again.steps()) == []
    for key, value in run.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[key], value)
