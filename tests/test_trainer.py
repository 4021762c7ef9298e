"""The generic trainer on a toy problem: learning, exact resume, atomic checkpoints, pause/cancel."""
from __future__ import annotations

import math
import os
import time

import pytest
import torch

from tests.trainer_toys import make_toy_trainer, toy_batch, toy_objective, weights
from train.loop.checkpointing import load_trainer_state, read_trainer_meta
from core.checkpoint import CheckpointError


def run(trainer) -> list:
    return list(trainer.steps())


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


def late_mse_ratio(reports: list) -> float:
    """Mean MSE of the last three log windows / that of the first."""
    logged = [r for r in reports if r.logged]
    return sum(r.losses["mse"] for r in logged[-3:]) / 3 / logged[0].losses["mse"]


# at least 20 % above what the trainer reaches here and well below a trainer that does not learn
# (lr 0); the measured ratios are in docs/development.md
LEARNT_MSE_RATIO = 0.5


def test_toy_loss_falls() -> None:
    reports = run(make_toy_trainer(max_steps=60, lr=5e-2))
    logged = [r for r in reports if r.logged]
    assert [r.step for r in logged] == list(range(5, 61, 5))
    assert set(logged[0].losses) == {"total", "mse", "weight_norm"}
    assert late_mse_ratio(reports) < LEARNT_MSE_RATIO
    assert reports[-1].step == 60 and reports[-1].phase == "toy"


def test_a_trainer_that_does_not_learn_misses_the_criterion() -> None:
    assert late_mse_ratio(run(make_toy_trainer(max_steps=60, lr=0.0))) > LEARNT_MSE_RATIO / 0.8


def test_resume_is_bit_identical(tmp_path) -> None:
    straight = make_toy_trainer(max_steps=24)
    run(straight)

    first = make_toy_trainer(tmp_path, max_steps=24)
    for report in first.steps():
        if report.step == 12:
            break  # closes the generator: a cancel at step 12
    assert read_trainer_meta(tmp_path / "last.safetensors")["step"] == 12

    resumed = make_toy_trainer(tmp_path, max_steps=24)
    resumed.load_checkpoint(tmp_path / "last.safetensors")
    assert resumed.step == 12
    run(resumed)
    assert_same_weights(weights(straight), weights(resumed))
    for group_a, group_b in zip(straight.optimizer.param_groups, resumed.optimizer.param_groups):
        assert group_a["lr"] == group_b["lr"]


def test_state_dict_round_trip_in_memory_is_bit_identical() -> None:
    straight = make_toy_trainer(max_steps=24)
    run(straight)

    first = make_toy_trainer(max_steps=24)
    for report in first.steps():
        if report.step == 12:
            break
    state = first.state_dict()
    assert state["step"] == 12 and state["phase"] == "toy" and state["world_size"] == 1
    assert state["ranks"][0]["data"] == {"position": 12}
    resumed = make_toy_trainer(max_steps=24)
    resumed.load_state_dict(state)
    assert resumed.step == 12 and resumed.elapsed_s == state["elapsed_s"]
    run(resumed)
    assert_same_weights(weights(straight), weights(resumed))


def test_checkpoint_file_holds_the_state_dict(tmp_path) -> None:
    trainer = make_toy_trainer(tmp_path, max_steps=6)
    run(trainer)
    stored = load_trainer_state(tmp_path / "last.safetensors")
    state = trainer.state_dict()
    assert stored.keys() == state.keys()
    assert_same_weights(stored["model"], state["model"])
    assert stored["ranks"][0]["data"] == state["ranks"][0]["data"]
    assert {k: stored[k] for k in ("phase", "step", "max_steps", "world_size", "config", "extra")} == \
        {k: state[k] for k in ("phase", "step", "max_steps", "world_size", "config", "extra")}


def test_resume_mid_run_continues_the_data_stream(tmp_path) -> None:
    trainer = make_toy_trainer(tmp_path, max_steps=10)
    run(trainer)
    other = make_toy_trainer(tmp_path, max_steps=20)
    other.load_checkpoint(tmp_path / "last.safetensors")
    assert other.data_source.state_dict() == {"position": 10}
    x, _ = next(other.data)
    assert torch.equal(x, toy_batch(10)[0])


def test_interrupted_checkpoint_write_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    trainer = make_toy_trainer(tmp_path, max_steps=30, checkpoint_every=10)
    steps = trainer.steps()
    for report in steps:
        if report.step == 10:
            break
    before = (tmp_path / "last.safetensors").read_bytes()

    def crash(fd: int) -> None:
        raise KeyboardInterrupt("killed while writing")

    trainer2 = make_toy_trainer(tmp_path, max_steps=30, checkpoint_every=10)
    trainer2.load_checkpoint(tmp_path / "last.safetensors")
    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        run(trainer2)  # the write at step 20 is interrupted after the bytes went to the temp file
    monkeypatch.undo()
    assert (tmp_path / "last.safetensors").read_bytes() == before
    assert read_trainer_meta(tmp_path / "last.safetensors")["step"] == 10
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]


def test_pause_by_not_iterating_changes_nothing_and_is_not_timed() -> None:
    straight = make_toy_trainer(max_steps=20)
    run(straight)
    paused = make_toy_trainer(max_steps=20)
    steps = paused.steps()
    reports = [next(steps) for _ in range(8)]
    pause_s = 0.4
    time.sleep(pause_s)
    reports += list(steps)
    assert [r.step for r in reports] == list(range(1, 21))
    assert reports[8].elapsed_s - reports[7].elapsed_s < pause_s
    assert_same_weights(weights(straight), weights(paused))


def test_cancel_leaves_a_loadable_checkpoint(tmp_path) -> None:
    trainer = make_toy_trainer(tmp_path, max_steps=1000, checkpoint_every=500)
    steps = trainer.steps()
    for _ in range(7):
        next(steps)
    steps.close()
    meta = read_trainer_meta(tmp_path / "last.safetensors")
    assert meta["step"] == 7 and meta["phase"] == "toy"
    restored = make_toy_trainer(tmp_path, max_steps=1000)
    restored.load_checkpoint(tmp_path / "last.safetensors")
    assert_same_weights(weights(trainer), weights(restored))


def test_eta_and_throughput_are_reported() -> None:
    reports = run(make_toy_trainer(max_steps=10))
    assert math.isnan(reports[0].eta_s)  # no log window closed yet
    assert reports[4].samples_per_s > 0 and reports[4].eta_s > 0
    assert reports[-1].eta_s == 0
    assert all(b.elapsed_s >= a.elapsed_s for a, b in zip(reports, reports[1:]))


def test_non_finite_loss_stops_with_a_clear_error(tmp_path) -> None:
    trainer = make_toy_trainer(tmp_path, max_steps=20, checkpoint_every=5, lr=1e-2)

    def exploding(model, batch):
        terms = toy_objective(model, batch)
        if trainer.step >= 7:
            terms["mse"] = terms["mse"] * float("inf")
        return terms

    trainer.objective = exploding
    trainer.loss_module.objective = exploding
    with pytest.raises(FloatingPointError, match=r"'mse'.*steps 6\.\.10.*step 5"):
        run(trainer)
    assert read_trainer_meta(tmp_path / "last.safetensors")["step"] == 5


def test_objective_without_total_is_named() -> None:
    trainer = make_toy_trainer(max_steps=3)
    trainer.loss_module.objective = lambda model, batch: {"mse": toy_objective(model, batch)["mse"]}
    with pytest.raises(KeyError, match="without a 'total' term"):
        run(trainer)


def test_checkpoint_of_another_phase_is_refused(tmp_path) -> None:
    run(make_toy_trainer(tmp_path, max_steps=3))
    other = make_toy_trainer(tmp_path, max_steps=3)
    other.phase = "embed"
    with pytest.raises(CheckpointError, match="phase 'toy'"):
        other.load_checkpoint(tmp_path / "last.safetensors")


def test_keep_every_writes_periodic_copies(tmp_path) -> None:
    run(make_toy_trainer(tmp_path, max_steps=12, keep_every=5))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["last.safetensors", "step_0000005.safetensors", "step_0000010.safetensors"]
    assert read_trainer_meta(tmp_path / "step_0000005.safetensors")["step"] == 5
    assert read_trainer_meta(tmp_path / "last.safetensors")["step"] == 12
