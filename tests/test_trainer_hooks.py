"""Trainer hooks: the CSV log follows resumes, grids are written as PNGs, hooks see every event."""
from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from tests.trainer_toys import make_toy_trainer, toy_objective
from train.loop.hooks import CSVLossLog, Hook, SampleGrid, TensorBoardLog


def rows(path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_csv_log_has_every_term_and_drops_rows_past_the_resumed_checkpoint(tmp_path) -> None:
    log = tmp_path / "losses.csv"
    trainer = make_toy_trainer(tmp_path / "ckpt", max_steps=30, hooks=[CSVLossLog(log)], checkpoint_every=10)
    steps = trainer.steps()
    for report in steps:
        if report.step == 15:  # logged at 5, 10, 15; checkpoint at 10, cancel writes 15
            break
    steps.close()
    assert [int(r["step"]) for r in rows(log)] == [5, 10, 15]
    assert set(rows(log)[0]) == {"step", "elapsed_s", "samples_per_s", "total", "mse", "weight_norm"}

    resumed = make_toy_trainer(tmp_path / "ckpt", max_steps=30, hooks=[CSVLossLog(log)])
    resumed.load_checkpoint(tmp_path / "ckpt" / "last.safetensors")
    for _ in resumed.steps():
        pass
    assert [int(r["step"]) for r in rows(log)] == [5, 10, 15, 20, 25, 30]


def test_csv_log_truncates_when_resuming_from_an_older_checkpoint(tmp_path) -> None:
    log = tmp_path / "losses.csv"
    for _ in make_toy_trainer(tmp_path / "ckpt", max_steps=20, hooks=[CSVLossLog(log)], keep_every=10).steps():
        pass
    older = make_toy_trainer(tmp_path / "ckpt", max_steps=20, hooks=[CSVLossLog(log)])
    older.load_checkpoint(tmp_path / "ckpt" / "step_0000010.safetensors")
    steps = older.steps()
    next(steps)  # on_start ran: rows of steps 15 and 20 belonged to the abandoned future
    assert [int(r["step"]) for r in rows(log)] == [5, 10]
    steps.close()


def test_csv_log_widens_its_header_for_a_new_term(tmp_path) -> None:
    log = tmp_path / "losses.csv"
    trainer = make_toy_trainer(max_steps=10, hooks=[CSVLossLog(log)])

    def objective(model, batch):
        terms = toy_objective(model, batch)
        if trainer.step >= 5:
            terms["late_term"] = terms["mse"] * 0
        return terms

    trainer.loss_module.objective = objective
    for _ in trainer.steps():
        pass
    table = rows(log)
    assert table[0]["late_term"] == "" and float(table[1]["late_term"]) == 0.0


def test_sample_grid_writes_the_renderers_image_at_each_evaluation(tmp_path) -> None:
    modes = []

    def render(model):
        modes.append(model.training)
        image = np.zeros((20, 30, 3), np.uint8)
        image[:, :, 2] = 200
        return image

    tensorboard = TensorBoardLog(tmp_path / "tb")
    grid = SampleGrid(render, tmp_path / "grids", tensorboard)
    for _ in make_toy_trainer(max_steps=9, hooks=[tensorboard, grid], eval_every=4).steps():
        pass
    assert [p.name for p in grid.written] == ["toy_0000004.png", "toy_0000008.png", "toy_0000009.png"]
    assert modes == [False, False, False]  # rendered in eval mode
    assert cv2.imread(str(grid.written[0]))[0, 0].tolist() == [0, 0, 200]
    assert any((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_sample_grid_rejects_a_wrong_image(tmp_path) -> None:
    grid = SampleGrid(lambda model: np.zeros((4, 4), np.float32), tmp_path)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        for _ in make_toy_trainer(max_steps=2, hooks=[grid]).steps():
            pass


def test_hooks_see_start_steps_evaluations_and_end() -> None:
    class Recorder(Hook):
        def __init__(self):
            self.events = []

        def on_start(self, trainer):
            self.events.append(("start", trainer.step))

        def before_step(self, trainer):
            self.events.append(("before", trainer.step))

        def after_step(self, trainer, report):
            self.events.append(("after", report.step))

        def on_eval(self, trainer):
            self.events.append(("eval", trainer.step))

        def on_end(self, trainer):
            self.events.append(("end", trainer.step))

    recorder = Recorder()
    for _ in make_toy_trainer(max_steps=3, hooks=[recorder], eval_every=2).steps():
        pass
    assert recorder.events == [("start", 0), ("before", 0), ("after", 1), ("before", 1), ("after", 2), ("eval", 2),
                               ("before", 2), ("after", 3), ("eval", 3), ("end", 3)]
