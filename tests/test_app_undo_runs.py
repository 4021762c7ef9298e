"""A held key or a mouse held on a slider's groove moves it a step at a time; the run of steps is
one undo step, not one per 0.1."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSlider

from tests.app_helpers import settle, undo_the_two_slider_edits


def test_a_held_key_or_groove_press_is_one_undo_step(window, qtbot):
    session = window.session
    original = session.latent.value
    slider = window.latent_panel.sliders[2]
    for _ in range(12):  # the mouse held on the groove: QSlider repeats page steps
        slider.triggerAction(QAbstractSlider.SliderAction.SliderPageStepAdd)
    slider.setFocus()
    for _ in range(6):   # a held arrow key repeats single steps
        qtbot.keyClick(slider, Qt.Key.Key_Right)
    settle(qtbot, window)
    moved = session.latent.value
    assert moved[2] != original[2]
    session.undo()       # one Ctrl+Z takes the whole run back
    settle(qtbot, window)
    np.testing.assert_allclose(session.latent.value, original)
    assert not session.history.can_undo() or session.history.undo_label() != "move slider"
    session.redo()
    settle(qtbot, window)
    np.testing.assert_allclose(session.latent.value, moved)


def test_runs_on_two_sliders_are_two_undo_steps(window, qtbot):
    session = window.session
    original = session.latent.value
    sliders = window.latent_panel.sliders
    for _ in range(5):
        sliders[0].triggerAction(QAbstractSlider.SliderAction.SliderPageStepAdd)
    for _ in range(5):
        sliders[1].triggerAction(QAbstractSlider.SliderAction.SliderPageStepSub)
    settle(qtbot, window)
    undo_the_two_slider_edits(window, qtbot, original)
