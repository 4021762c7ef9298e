"""Train dialog runs: every training gets its own new folder; continuing a run is asked for."""
from __future__ import annotations

from datetime import datetime

import pytest

from app.training import TrainingRequest, make_fit_run, new_run_dir, run_dir_for

pytestmark = pytest.mark.usefixtures("one_thread")


def test_each_training_gets_a_new_timestamped_folder(tmp_path):
    now = datetime(2025, 3, 4, 5, 6, 7)
    first = new_run_dir(tmp_path / "gui", now)
    second = new_run_dir(tmp_path / "gui", now)  # same second: still a new folder
    assert first == tmp_path / "gui" / "20250304-050607"
    assert second == tmp_path / "gui" / "20250304-050607-2"
    assert first.is_dir() and second.is_dir()


def test_a_finished_run_is_not_resumed_unless_asked(tmp_path):
    old_run = tmp_path / "gui" / "20250101-000000"
    (old_run / "checkpoints").mkdir(parents=True)
    fresh = run_dir_for(TrainingRequest(run_dir=str(tmp_path / "gui")))
    assert fresh.parent == tmp_path / "gui" and fresh != old_run and not any(fresh.iterdir())
    assert run_dir_for(TrainingRequest(run_dir=str(old_run), resume=True)) == old_run
    with pytest.raises(ValueError, match="nothing to resume"):
        run_dir_for(TrainingRequest(run_dir=str(fresh), resume=True))


@pytest.mark.slow
def test_two_trainings_from_the_dialog_train_in_different_folders(tmp_path):
    request = TrainingRequest(steps=1, device="cpu", run_dir=str(tmp_path / "gui"))
    first, second = make_fit_run(request), make_fit_run(request)
    assert first.run_dir != second.run_dir
    assert [r.step for r in first.steps()] == [1, 1]  # disentangle 1, embed 1
    assert [r.step for r in second.steps()] == [1, 1]  # the first run's checkpoints are not its own
