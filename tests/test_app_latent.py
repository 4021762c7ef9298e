"""Latent panel: sliders drive the synthesised image; randomise, reset, walks, undo/redo."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from app.model_service import ModelService
from core.models.config import DVAEConfig
from tests.app_helpers import settle, undo_the_two_slider_edits


def test_one_slider_per_latent_dimension_grouped_by_block(window):
    panel = window.latent_panel
    assert len(panel.sliders) == window.session.model.dim
    names = [b.name for b in window.session.latent.blocks]
    assert names[:3] == ["pose", "viewpoint", "content"]


def test_moving_a_slider_changes_the_image(window, qtbot):
    session = window.session
    before_image, before_version = session.image.image.copy(), session.image.version
    slider = window.latent_panel.sliders[session.model.block("content").start]
    slider.setValue(slider.maximum() if slider.value() < 0 else slider.minimum())
    settle(qtbot, window)
    assert session.image.version > before_version
    assert not np.array_equal(session.image.image, before_image)
    assert session.latent.value[session.model.block("content").start] == slider.value() / 100


def test_clicking_a_slider_with_the_mouse_changes_the_latent(window, qtbot):
    slider = window.latent_panel.sliders[0]
    window.latent_panel._scroll.ensureWidgetVisible(slider)
    slider.setValue(0)
    settle(qtbot, window)
    # a click on the groove right of the handle pages the value up
    qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(slider.width() - 4, slider.height() // 2))
    settle(qtbot, window)
    assert window.session.latent.value[0] > 0


def test_randomise_one_block_changes_only_that_block(window, qtbot):
    session = window.session
    before = session.latent.value
    window.latent_panel.randomise("content")
    after = session.latent.value
    content = session.model.block("content").slice
    changed = np.nonzero(after != before)[0]
    assert len(changed) > 0
    assert all(content.start <= d < content.stop for d in changed)
    settle(qtbot, window)


def test_reset_goes_to_the_prior_mean_and_the_sliders_follow(window, qtbot):
    window.latent_panel._reset()
    assert np.all(window.session.latent.value == 0)
    assert all(s.value() == 0 for s in window.latent_panel.sliders)
    settle(qtbot, window)


def test_undo_and_redo_a_slider_edit(window, qtbot):
    session = window.session
    original = session.latent.value
    slider = window.latent_panel.sliders[1]
    slider.setValue(250 if original[1] < 2 else -250)  # not dragged: counts as one edit
    settle(qtbot, window)
    edited = session.latent.value
    session.undo()
    settle(qtbot, window)
    np.testing.assert_allclose(session.latent.value, original)
    assert slider.value() == round(original[1] * 100)
    session.redo()
    settle(qtbot, window)
    np.testing.assert_allclose(session.latent.value, edited)


def test_walk_along_one_dimension_animates_the_latent(window, qtbot):
    panel = window.latent_panel
    panel.walk_dim.setValue(2)
    seen = []
    window.session.latent.changed.connect(lambda source: seen.append(window.session.latent.value[2]))
    panel.walk_button.setChecked(True)
    qtbot.waitUntil(lambda: len(seen) >= 5, timeout=5000)
    panel.walk_button.setChecked(False)
    assert len(set(np.round(seen, 4))) >= 4
    settle(qtbot, window)


def test_walk_between_two_saved_latents(window, qtbot):
    session, panel = window.session, window.latent_panel
    session.latent.save_slot("A")
    session.latent.randomise(session.rng)
    session.latent.save_slot("B")
    assert panel.walk_mode.findText("from A to B") >= 0
    panel.walk_mode.setCurrentText("from A to B")
    frames = panel.walk_frames()
    np.testing.assert_allclose(frames[0], session.latent.saved["A"], atol=1e-5)
    assert np.abs(frames - session.latent.saved["B"]).sum(axis=1).min() < 1e-4
    settle(qtbot, window)


def test_two_quick_edits_are_two_undo_steps(window, qtbot):
    session = window.session
    original = session.latent.value
    sliders = window.latent_panel.sliders
    sliders[0].setValue(-250 if original[0] > 0 else 250)  # no waiting between the edits
    sliders[1].setValue(-250 if original[1] > 0 else 250)
    settle(qtbot, window)
    undo_the_two_slider_edits(window, qtbot, original)


def test_the_image_follows_a_dragged_slider_live_and_the_drag_is_one_undo_step(window, qtbot):
    from PySide6.QtWidgets import QStyle, QStyleOptionSlider

    session, panel = window.session, window.latent_panel
    slider = panel.sliders[session.model.block("content").start]
    panel._scroll.ensureWidgetVisible(slider)
    slider.setValue(0)
    settle(qtbot, window)
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    handle = slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                           QStyle.SubControl.SC_SliderHandle, slider).center()
    versions, undo_steps = [session.image.version], []
    session.history.changed.connect(lambda: undo_steps.append(session.history.undo_label()))
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=handle)
    for k in range(1, 6):
        qtbot.mouseMove(slider, pos=handle + QPoint(12 * k, 0))
        qtbot.waitUntil(lambda: session.image.version > versions[-1], timeout=5000)  # a new image per move
        versions.append(session.image.version)
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=handle + QPoint(60, 0))
    settle(qtbot, window)
    dim = session.model.block("content").start
    assert slider.value() > 0 and session.latent.value[dim] == slider.value() / 100
    assert undo_steps == ["move slider"]


def test_a_new_model_stops_a_playing_walk_and_the_button_follows(window, qtbot):
    panel = window.latent_panel
    panel.walk_button.setChecked(True)
    assert window.walk.playing and panel.walk_button.text() == "Stop"
    window.set_model(ModelService.untrained(DVAEConfig.tiny()))
    assert not window.walk.playing
    assert not panel.walk_button.isChecked() and panel.walk_button.text() == "Play"
    settle(qtbot, window)
