"""The Train dialog reads as a desktop app should: '1 sample', no time left counting while paused,
and a legend that does not cover the loss curves."""
from __future__ import annotations

from app.training import TrainingRequest
from tests.app_helpers import settle, slow_controller


def test_one_sample_is_singular(window):
    dialog = window.open_training_dialog()
    dialog.samples.setValue(1)
    assert dialog.samples.text() == "1 sample"
    dialog.samples.setValue(2)
    assert dialog.samples.text() == "2 samples"


def test_the_time_left_shows_while_running_and_not_while_paused(window, qtbot, tmp_path):
    controller, _ = slow_controller(tmp_path, n=2000, delay=0.05)
    window.training = controller
    dialog = window.open_training_dialog()
    controller.start(TrainingRequest(steps=2000, step="disentangle"))
    qtbot.waitUntil(lambda: len(controller.reports) >= 3, timeout=10_000)
    assert dialog.status.text().startswith("Training")
    assert "about 2 min left" in dialog.status.text()  # ~1,995 steps of 0.05 s, in minutes, not "100 s"
    controller.pause()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Paused"), timeout=10_000)
    assert " left" not in dialog.status.text()  # no time passes while paused
    controller.cancel()
    controller.resume()
    qtbot.waitUntil(lambda: controller.state == "cancelled", timeout=10_000)


def test_the_legend_lies_outside_the_plotted_area(window, qtbot, tmp_path):
    controller, _ = slow_controller(tmp_path, n=40, delay=0.001)
    window.training = controller
    dialog = window.open_training_dialog()
    dialog.resize(900, 700)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: controller.state == "finished", timeout=20_000)
    settle(qtbot, window)
    legend = dialog.legend.sceneBoundingRect()
    view = dialog.plot.getPlotItem().getViewBox().sceneBoundingRect()
    assert dialog.legend.items and legend.width() > 0  # the curve is named
    assert not legend.intersects(view)
