"""The Train dialog: choose data, step, length and device; watch progress, losses and samples."""
from __future__ import annotations

import math
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QFileDialog, QFormLayout, QGridLayout,
                               QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QRadioButton, QSpinBox,
                               QVBoxLayout, QWidget)

from app.edits import ModelInUse
from app.image_io import ImageFileError, load_photo
from app.model_service import MODEL_LOAD_ERRORS, ModelService
from app.training import BASE_CONFIGS, STEP_CHOICES, TrainingController, TrainingRequest
from app.widgets.image_view import ImageView
from train.config import DATASET_KINDS

_PEN_COLOURS = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6")


def _folder_row(parent: QWidget, edit: QLineEdit) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    browse = QPushButton("Browse…")
    browse.clicked.connect(lambda: edit.setText(QFileDialog.getExistingDirectory(parent, "Choose a folder") or edit.text()))
    row.addWidget(browse)
    return row


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``: time left as a person reads it."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"


class TrainingDialog(QDialog):
    """Observes a ``TrainingController`` and the app's ``ModelInUse``; its buttons call the
    controller, and "Use this model" switches the app to the trained model."""

    def __init__(self, parent: QWidget | None, controller: TrainingController, model: ModelInUse) -> None:
        super().__init__(parent)
        self.controller, self.model_in_use = controller, model
        self.setWindowTitle("Train a model")
        self.setModal(False)
        layout = QHBoxLayout(self)
        layout.addLayout(self._make_form(), 0)
        layout.addLayout(self._make_monitor(), 1)
        controller.changed.connect(self._refresh)
        model.changed.connect(lambda _description: self._refresh())
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._preview_path: Path | None = None
        self._refresh()

    # --- construction ----------------------------------------------------------------
    def _make_form(self) -> QVBoxLayout:
        column = QVBoxLayout()
        form = QFormLayout()
        self.base_config = QComboBox()
        for label, file in BASE_CONFIGS.items():
            self.base_config.addItem(label, file)
        form.addRow("Model", self.base_config)
        self.fine_tune = QCheckBox("start from the model in use (fine-tune it)")
        self.fine_tune.setToolTip("Its architecture replaces the model chosen above; that choice still "
                                  "gives the learning rate, loss weights and data settings.")
        form.addRow("", self.fine_tune)
        self.data_group = QButtonGroup(self)
        self.data_buttons = {}
        for kind, text in (("synthetic", "Synthetic hands"), ("dataset", "A dataset folder"),
                           ("photos", "Synthetic + unlabelled photos")):
            button = QRadioButton(text)
            self.data_group.addButton(button)
            self.data_buttons[kind] = button
        self.data_buttons["synthetic"].setChecked(True)
        self.samples = QSpinBox()
        self.samples.setRange(1, 10_000_000)
        self.samples.setValue(256)
        self.samples.setSuffix(" samples")
        self.samples.valueChanged.connect(lambda n: self.samples.setSuffix(" sample" if n == 1 else " samples"))
        form.addRow(self.data_buttons["synthetic"], self.samples)
        self.dataset_format = QComboBox()
        self.dataset_format.addItems(DATASET_KINDS)
        self.dataset_format.setCurrentText(TrainingRequest.dataset_format)
        self.dataset_dir = QLineEdit()
        dataset_row = _folder_row(self, self.dataset_dir)
        dataset_row.insertWidget(0, self.dataset_format)
        form.addRow(self.data_buttons["dataset"], dataset_row)
        self.photos_dir = QLineEdit()
        form.addRow(self.data_buttons["photos"], _folder_row(self, self.photos_dir))
        self.step = QComboBox()
        for choice, text in zip(STEP_CHOICES, ("both (disentangle, then embed)", "disentangling only",
                                               "embedding only")):
            self.step.addItem(text, choice)
        form.addRow("Training step", self.step)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10_000)
        form.addRow("Epochs", self.epochs)
        self.steps = QSpinBox()
        self.steps.setRange(0, 10_000_000)
        self.steps.setSpecialValueText("from the epochs")
        form.addRow("Steps per training step", self.steps)
        self.device = QComboBox()
        self.device.addItems(("auto", "cpu", "cuda"))
        form.addRow("Device", self.device)
        self.run_dir = QLineEdit(str(Path("runs") / "gui"))
        form.addRow("Run folder", _folder_row(self, self.run_dir))
        column.addLayout(form)
        buttons = QGridLayout()
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.use_button = QPushButton("Use this model")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self._toggle_pause)
        self.cancel_button.clicked.connect(self.controller.cancel)
        self.use_button.clicked.connect(self.use_model)
        for i, button in enumerate((self.start_button, self.pause_button, self.cancel_button, self.use_button)):
            buttons.addWidget(button, i // 2, i % 2)
        column.addLayout(buttons)
        column.addStretch(1)
        return column

    def _make_monitor(self) -> QVBoxLayout:
        column = QVBoxLayout()
        self.progress = QProgressBar()
        self.status = QLabel("Not started.")
        self.status.setWordWrap(True)
        self.plot = pg.PlotWidget(title="losses")
        self.plot.setLogMode(y=True)
        # the legend sits in a row of its own under the plot: inside it, it hid the curves
        self.legend = pg.LegendItem(colCount=4)
        self.plot.getPlotItem().layout.addItem(self.legend, 4, 1)
        self.plot.setLabel("bottom", "step")
        self.preview = ImageView("sample previews appear at each evaluation")
        self.preview.setMinimumSize(240, 160)
        column.addWidget(self.progress)
        column.addWidget(self.status)
        column.addWidget(self.plot, 2)
        column.addWidget(self.preview, 2)
        self.resize(1000, 620)
        return column

    # --- actions -----------------------------------------------------------------------
    def request(self) -> TrainingRequest:
        data = next(kind for kind, button in self.data_buttons.items() if button.isChecked())
        return TrainingRequest(
            base_config=self.base_config.currentData(), data=data, samples=self.samples.value(),
            dataset_format=self.dataset_format.currentText(), dataset_dir=self.dataset_dir.text().strip(),
            photos_dir=self.photos_dir.text().strip(), step=self.step.currentData(), epochs=self.epochs.value(),
            steps=self.steps.value(), device=self.device.currentText(), run_dir=self.run_dir.text().strip(),
            init_weights=str(self._model_in_use_path() or "") if self.fine_tune.isChecked() else "")

    def _model_in_use_path(self) -> Path | None:
        return self.model_in_use.path()

    def start(self) -> None:
        self.plot.clear()
        self._curves.clear()
        self._preview_path = None
        self.preview.set_image(None)
        self.controller.start(self.request())

    def _toggle_pause(self) -> None:
        if self.controller.state == "paused":
            self.controller.resume()
        else:
            self.controller.pause()

    def use_model(self) -> None:
        path = self.controller.model_path
        if path is None:
            return
        try:
            model = ModelService.load(path)
        except MODEL_LOAD_ERRORS as err:  # a half-written or foreign file: say so, keep the current model
            self.model_in_use.messages.post("error", f"Cannot load the trained model {path}: {err}")
            return
        self.model_in_use.switch(model)
        self.model_in_use.messages.post("info", f"Now using the model trained in {path.parent}")

    # --- controller -> widgets ------------------------------------------------------------
    def _refresh(self) -> None:
        c = self.controller
        running = c.is_running()
        self.start_button.setEnabled(not running)
        can_fine_tune = self._model_in_use_path() is not None
        self.fine_tune.setEnabled(can_fine_tune and not running)
        if not can_fine_tune:
            self.fine_tune.setChecked(False)
        self.pause_button.setEnabled(running)
        self.pause_button.setText("Resume" if c.state == "paused" else "Pause")
        self.cancel_button.setEnabled(running)
        self.use_button.setEnabled(c.state in ("finished", "cancelled") and c.model_path is not None)
        total = max(c.total_steps(), 1)
        self.progress.setRange(0, total)
        self.progress.setValue(min(len(c.reports), total))
        self.status.setText(self._status_text())
        if c.reports and (c.reports[-1].logged or not running):
            self._update_plot()
        preview = c.latest_preview()
        if preview is not None and preview != self._preview_path:
            self._preview_path = preview
            try:
                self.preview.set_image(load_photo(preview))
            except ImageFileError:
                pass  # the trainer may still be writing it; the next refresh retries

    def _status_text(self) -> str:
        c = self.controller
        if c.state == "idle":
            return "Not started."
        if c.state == "failed":
            return f"Failed: {c.error}"
        text = {"running": "Training", "paused": "Paused", "finished": "Finished",
                "cancelled": "Cancelled (the last checkpoint is kept)"}[c.state]
        if c.reports:
            last = c.reports[-1]
            eta = c.eta_s()
            text += f" — {last.phase} step {last.step}/{last.max_steps}"
            if c.state == "running" and not math.isnan(eta):  # paused, no time passes: say none
                text += f", about {_duration(eta)} left"
        if c.model_path is not None:
            text += f". Model: {c.model_path}"
        return text

    def _update_plot(self) -> None:
        reports = [r for r in self.controller.reports if r.logged]
        keys = sorted({k for r in reports for k in r.losses})
        for i, key in enumerate(keys):
            xs = [n for n, r in enumerate(self.controller.reports, 1) if r.logged and key in r.losses]
            ys = [max(r.losses[key], 1e-8) for r in reports if key in r.losses]
            if key not in self._curves:
                self._curves[key] = self.plot.plot(pen=pg.mkPen(_PEN_COLOURS[i % len(_PEN_COLOURS)], width=2), name=key)
                self.legend.addItem(self._curves[key], key)
            self._curves[key].setData(xs, ys)
