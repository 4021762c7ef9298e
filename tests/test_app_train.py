"""Train dialog: a tiny run to the end and a switch to its model; pause, cancel, close."""
from __future__ import annotations

import importlib.util
import math

import pytest

from app.model_service import ModelService
from app.training import BASE_CONFIGS, TrainingRequest, build_fit_config
from core.api import HandModel
from core.models.config import DVAEConfig
from tests.app_helpers import make_window, settle, slow_controller

RUN_TIMEOUT_MS = 120_000


def test_request_to_config(tmp_path):
    config = build_fit_config(TrainingRequest(samples=80, epochs=2, step="both"))
    steps = math.ceil(2 * 80 / config.data.batch_size)
    assert (config.schedule.disentangle_steps, config.schedule.embed_steps) == (steps, steps)
    only_embed = build_fit_config(TrainingRequest(steps=5, step="embed"))
    assert (only_embed.schedule.disentangle_steps, only_embed.schedule.embed_steps) == (0, 5)
    photos = build_fit_config(TrainingRequest(data="photos", photos_dir=str(tmp_path)))
    assert photos.data.unlabelled_dir == str(tmp_path) and photos.data.labelled_fraction < 1
    with pytest.raises(ValueError, match="nowhere"):
        build_fit_config(TrainingRequest(data="photos", photos_dir=str(tmp_path / "nowhere")))


@pytest.mark.parametrize("base_config", BASE_CONFIGS.values())
def test_every_model_the_dialog_offers_builds_a_config(base_config):
    config = build_fit_config(TrainingRequest(base_config=base_config, steps=4, step="embed"))
    assert (config.schedule.disentangle_steps, config.schedule.embed_steps) == (0, 4)
    assert not config.init.weights


def test_a_fine_tuning_request_takes_the_model_files_architecture(tmp_path):
    path = HandModel.untrained(DVAEConfig.tiny(), seed=1).save(tmp_path / "model.safetensors")
    config = build_fit_config(TrainingRequest(base_config="default.toml", steps=3, init_weights=str(path)))
    assert config.model == DVAEConfig.tiny() and config.init.weights == str(path)
    (tmp_path / "broken.safetensors").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot fine-tune .*broken"):
        build_fit_config(TrainingRequest(init_weights=str(tmp_path / "broken.safetensors")))


def test_the_dialog_fine_tunes_the_model_in_use_only_when_it_has_a_file(window, tmp_path):
    dialog = window.open_training_dialog()
    window.set_model(ModelService.untrained(DVAEConfig.tiny()))
    assert not dialog.fine_tune.isEnabled() and dialog.request().init_weights == ""
    path = HandModel.untrained(DVAEConfig.tiny(), seed=1).save(tmp_path / "model.safetensors")
    window.set_model(ModelService.load(path))
    assert dialog.fine_tune.isEnabled()
    dialog.fine_tune.setChecked(True)
    assert dialog.request().init_weights == str(path)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("core.data.synthetic") is None,
                    reason="the synthetic renderer (core.data.synthetic) is not available")
def test_a_tiny_training_runs_to_the_end_and_the_app_switches_to_it(window, qtbot, tmp_path):
    dialog = window.open_training_dialog()
    dialog.steps.setValue(2)
    dialog.device.setCurrentText("cpu")
    dialog.run_dir.setText(str(tmp_path / "run"))
    dialog.start_button.click()
    qtbot.waitUntil(lambda: window.training.state in ("finished", "failed"), timeout=RUN_TIMEOUT_MS)
    assert window.training.state == "finished", window.training.error
    assert dialog.progress.value() == dialog.progress.maximum() == 4
    assert dialog._curves  # the loss plot has curves
    assert dialog.use_button.isEnabled()
    old_dim = window.session.model.dim
    dialog.use_button.click()
    settle(qtbot, window)
    assert window.session.model.description.endswith("model.safetensors")
    assert window.session.model.dim != old_dim and len(window.latent_panel.sliders) == window.session.model.dim
    assert window.session.image.image.shape[0] == window.session.model.output_size


def test_pause_resume_and_cancel_keep_a_checkpoint(qtbot, tmp_path):
    controller, runs = slow_controller(tmp_path)
    controller.start(TrainingRequest(steps=200, step="disentangle"))
    qtbot.waitUntil(lambda: len(controller.reports) >= 3, timeout=10_000)
    controller.pause()
    qtbot.wait(100)
    paused_at = len(controller.reports)
    qtbot.wait(300)
    assert len(controller.reports) <= paused_at + 1 and controller.state == "paused"
    controller.resume()
    qtbot.waitUntil(lambda: len(controller.reports) > paused_at + 3, timeout=10_000)
    controller.cancel()
    qtbot.waitUntil(lambda: controller.state == "cancelled", timeout=10_000)
    assert len(controller.reports) < runs[0].n
    assert runs[0].checkpoint.read_text() == str(controller.reports[-1].step)
    assert controller.model_path is not None and controller.model_path.is_file()


@pytest.mark.slow
def test_the_cancel_button_stops_the_run_and_offers_its_model(window, qtbot, tmp_path):
    controller, runs = slow_controller(tmp_path, n=2000)  # 20 s: still running when a busy machine gets to cancel
    window.training = controller
    dialog = window.open_training_dialog()
    dialog.start_button.click()
    qtbot.waitUntil(lambda: len(controller.reports) >= 2, timeout=10_000)
    assert not dialog.start_button.isEnabled()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: controller.state == "cancelled", timeout=10_000)
    assert dialog.use_button.isEnabled() and "Cancelled" in dialog.status.text()
    dialog.use_button.click()
    settle(qtbot, window)
    assert window.session.model.dim == DVAEConfig.tiny().layout.dim


def test_closing_the_window_during_training_asks_then_stops_cleanly(qtbot, tmp_path, monkeypatch):
    win = make_window(qtbot, tmp_path)
    controller, runs = slow_controller(tmp_path)
    win.training = controller
    controller.start(TrainingRequest(steps=400))
    qtbot.waitUntil(lambda: len(controller.reports) >= 2, timeout=10_000)
    answers = [False]
    monkeypatch.setattr(win, "confirm_stop_training", lambda: answers.pop(0))
    win.close()  # the user says no: the window stays and training goes on
    assert win.isVisible() and controller.is_running()
    answers.append(True)
    win.close()
    assert not win.isVisible()
    assert controller.state == "cancelled" and runs[0].checkpoint.is_file()
