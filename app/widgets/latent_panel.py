"""Latent panel: one slider per latent dimension, grouped by block, plus randomise/reset/walk."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QSlider, QSpinBox, QVBoxLayout, QWidget)

from app.edits import LatentEdits
from app.state import LATENT_RANGE, LatentState
from app.walk import dimension_walk, ping_pong
from app.walk_player import WalkPlayer

SLIDER_STEPS_PER_UNIT = 100
BEYOND_STYLE = "color: #c0392b; font-weight: bold"  # a value the slider cannot show: its readout says so
WALK_STEPS = 60


class LatentPanel(QWidget):
    """Observes ``latent`` and the ``WalkPlayer``; slider moves call ``LatentState.set_dim``
    (source "slider"); buttons and undo steps go to ``edits``; Play/Stop call the player."""

    def __init__(self, latent: LatentState, walk: WalkPlayer, edits: LatentEdits, parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.latent = latent
        self.edits = edits
        self.walk = walk
        self.sliders: list[QSlider] = []
        self._readouts: list[QLabel] = []
        self._syncing = False
        walk.playing_changed.connect(self._on_walk_playing)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._make_buttons())
        layout.addLayout(self._make_walk_controls())
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        layout.addWidget(self._scroll, 1)
        self._build_sliders()
        latent.changed.connect(self._on_latent_changed)
        latent.layout_changed.connect(self._build_sliders)
        latent.saved_changed.connect(lambda _name: self._update_walk_modes())

    # --- construction ----------------------------------------------------------------
    def _make_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        for text, slot in (("Randomise all", lambda: self.randomise(None)),
                           ("Reset", self._reset),
                           ("Save as A", lambda: self.latent.save_slot("A")),
                           ("Save as B", lambda: self.latent.save_slot("B"))):
            button = QPushButton(text)
            button.clicked.connect(slot)
            row.addWidget(button)
        return row

    def _make_walk_controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Walk"))
        self.walk_mode = QComboBox()
        self.walk_dim = QSpinBox()
        self.walk_dim.setPrefix("dim ")
        self.walk_button = QPushButton("Play")
        self.walk_button.setCheckable(True)
        self.walk_button.toggled.connect(self._toggle_walk)
        row.addWidget(self.walk_mode, 1)
        row.addWidget(self.walk_dim)
        row.addWidget(self.walk_button)
        self._update_walk_modes()
        return row

    def _update_walk_modes(self) -> None:
        current = self.walk_mode.currentText()
        self.walk_mode.clear()
        self.walk_mode.addItem("along one dimension")
        if {"A", "B"} <= set(self.latent.saved):
            self.walk_mode.addItem("from A to B")
        index = self.walk_mode.findText(current)
        self.walk_mode.setCurrentIndex(max(index, 0))

    def _build_sliders(self) -> None:
        self.walk.stop()
        container = QWidget()
        column = QVBoxLayout(container)
        column.setContentsMargins(0, 0, 0, 0)
        self.sliders, self._readouts = [], []
        for block in self.latent.blocks:
            box = QGroupBox(f"{block.name}  ({block.size})")
            grid = QGridLayout(box)
            grid.setContentsMargins(4, 2, 4, 2)
            grid.setVerticalSpacing(0)
            randomise = QPushButton(f"Randomise {block.name}")
            randomise.clicked.connect(lambda _=False, name=block.name: self.randomise(name))
            grid.addWidget(randomise, 0, 0, 1, 3)
            for k in range(block.size):
                dim = block.start + k
                slider = QSlider(Qt.Orientation.Horizontal)
                slider.setRange(-int(LATENT_RANGE * SLIDER_STEPS_PER_UNIT), int(LATENT_RANGE * SLIDER_STEPS_PER_UNIT))
                slider.setObjectName(f"latent_slider_{dim}")
                slider.valueChanged.connect(lambda value, d=dim: self._on_slider(d, value))
                slider.sliderReleased.connect(lambda: self.edits.commit("move slider"))
                readout = QLabel("+0.00")
                readout.setMinimumWidth(40)
                grid.addWidget(QLabel(f"{k}"), k + 1, 0)
                grid.addWidget(slider, k + 1, 1)
                grid.addWidget(readout, k + 1, 2)
                self.sliders.append(slider)
                self._readouts.append(readout)
            column.addWidget(box)
        column.addStretch(1)
        self._scroll.setWidget(container)
        self.walk_dim.setRange(0, max(self.latent.dim - 1, 0))
        self._on_latent_changed("layout")

    # --- latent <-> sliders ----------------------------------------------------------
    def _on_slider(self, dim: int, value: int) -> None:
        if self._syncing:
            return
        self.latent.set_dim(dim, value / SLIDER_STEPS_PER_UNIT, "slider")
        if not self.sliders[dim].isSliderDown():  # keys, wheel, a mouse held on the groove: steps of
            self.edits.commit("move slider", f"slider {dim}")  # one slider in a row are one undo step

    def _on_latent_changed(self, _source: str) -> None:
        z = self.latent.value
        if len(z) != len(self.sliders):
            return
        self._syncing = True
        try:
            for dim, (slider, readout) in enumerate(zip(self.sliders, self._readouts)):
                ticks = int(round(z[dim] * SLIDER_STEPS_PER_UNIT))
                if slider.value() != ticks:
                    slider.setValue(ticks)  # QSlider clamps a value beyond its range to its end
                beyond = abs(z[dim]) > LATENT_RANGE  # an estimate or an encoded pose can lie there
                readout.setText(f"{z[dim]:+.2f}" + (" ›" if beyond else ""))
                readout.setStyleSheet(BEYOND_STYLE if beyond else "")
                readout.setToolTip(f"{z[dim]:+.2f} lies beyond the slider's range (±{LATENT_RANGE:g}): the slider "
                                   "shows its end; moving it sets the value in range" if beyond else "")
        finally:
            self._syncing = False

    def randomise(self, block: str | None) -> None:
        self.edits.randomise(block)

    def _reset(self) -> None:
        self.edits.reset()

    # --- walks -----------------------------------------------------------------------
    def walk_frames(self) -> np.ndarray:
        """(T, D) latents of the walk chosen in the panel (looping)."""
        latent = self.latent
        if self.walk_mode.currentText() == "from A to B":
            path = self.edits.interpolate(latent.saved["A"], latent.saved["B"], WALK_STEPS // 2 + 1)
            return ping_pong(path)
        return dimension_walk(latent.value, self.walk_dim.value(), WALK_STEPS)

    def _toggle_walk(self, playing: bool) -> None:
        if playing:
            self.walk.play(self.walk_frames())
        else:
            self.walk.stop()

    def _on_walk_playing(self, playing: bool) -> None:
        self.walk_button.setText("Stop" if playing else "Play")
        if self.walk_button.isChecked() != playing:
            self.walk_button.setChecked(playing)
