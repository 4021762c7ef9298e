"""The main window: docks around the session's state, its actions and menus, file dialogs,
settings, drag-and-drop of photos.

The window builds the session and hands each widget the state it shows and the requests it may
make (``app.edits``); it owns every action, and ``app.menus`` only lays them out.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QDialog, QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow, QMenu, QMessageBox,
                               QWidget)

from app.menus import build_menu_bar, make_action
from app.model_service import MODEL_LOAD_ERRORS, ModelService
from app.runner import ModelRunner
from app.training import TrainingController
from app.walk_player import WalkPlayer
from app.session import Session
from app.state import Message
from app.widgets.image_view import ImageView
from app.widgets.latent_panel import LatentPanel
from app.widgets.photo_panel import PhotoPanel
from app.widgets.pose_panel import PosePanel
from app.widgets.transfer_panel import TransferPanel

MAX_RECENT = 8
OUTPUT_FOLDER = "dVAE Hands"  # under the home folder: where saved files go until the user picks another
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.PNG *.JPG *.JPEG);;All files (*)"
PNG_FILTER, POSE_FILTER = "PNG (*.png)", "Pose JSON (*.json)"


class MainWindow(QMainWindow):
    """Builds the docks, wires messages to the status bar / dialogs and keeps QSettings."""

    def __init__(self, model: ModelService, settings: QSettings | None = None, note: str | None = None,
                 show_dialogs: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("dVAE Hands")
        self.setObjectName("MainWindow")
        self.settings = settings or QSettings("dvae-hands", "dVAE Hands")
        self.show_dialogs = show_dialogs
        self.runner = ModelRunner()
        self.session = Session(model, self.runner)
        self.training = TrainingController()  # the Train dialog observes it
        self.training_dialog: QDialog | None = None  # made when first opened, kept between openings

        session = self.session
        latent_edits = session.latent_edits()
        self.image_view = ImageView("synthesising…")
        self.walk = WalkPlayer(session.latent, latent_edits.commit)
        self.latent_panel = LatentPanel(session.latent, self.walk, latent_edits)
        self.pose_panel = PosePanel(session.pose, session.pose_edits())
        self.photo_panel = PhotoPanel(session.photo, self.open_photo, session.request_estimate,
                                      flip_side=session.photos.flip_side, choose_hand=session.photos.choose_hand,
                                      save_estimate=session.photos.save_estimate, save_file_name=self.save_file_name)
        self.transfer_panel = TransferPanel(session.transfer, session.transfer_edits(self.export_transfer))
        session.transfer_replaced.connect(self.transfer_panel.set_transfer)
        self.setCentralWidget(None)
        self.setDockNestingEnabled(True)
        self.docks: dict[str, QDockWidget] = {}
        self._add_dock("pose", "3D pose", self.pose_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._add_dock("image", "Synthesised image", self.image_view, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.splitDockWidget(self.docks["pose"], self.docks["image"], Qt.Orientation.Horizontal)
        self._add_dock("latent", "Latent", self.latent_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self._add_dock("photo", "Photo → pose", self.photo_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._add_dock("transfer", "Pose transfer", self.transfer_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.docks["photo"], self.docks["transfer"], Qt.Orientation.Horizontal)
        self.resize(1400, 900)
        self.resizeDocks([self.docks["pose"], self.docks["image"], self.docks["latent"]], [480, 480, 380],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["pose"], self.docks["photo"]], [500, 400], Qt.Orientation.Vertical)
        self._default_state = self.saveState()

        self.model_label = QLabel()
        self.statusBar().addPermanentWidget(self.model_label)
        self._make_menus()
        self.session.messages.posted.connect(self._on_message)
        self.session.image.changed.connect(self._on_image)
        self.session.model_changed.connect(self._show_model)
        self.setAcceptDrops(True)
        self._show_model(model.description)
        if note:
            self.session.messages.post("warning", note)
        self._restore_settings()
        self.session.start()

    def _add_dock(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.docks[key] = dock

    # --- actions and menus -------------------------------------------------------------
    def _make_menus(self) -> None:
        def action(text, slot, shortcut=None):
            return make_action(self, text, slot, shortcut)

        self.recent_menu = QMenu("Open &recent", self)
        self.undo_action = action("&Undo", self.session.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = action("&Redo", self.session.redo, QKeySequence.StandardKey.Redo)
        session, ask = self.session, self.ask_file
        self.menus = build_menu_bar(self.menuBar(), [
            ("&File", [
                action("&Open image…", self.open_photo, QKeySequence.StandardKey.Open), self.recent_menu, None,
                action("&Load pose…", lambda: ask(session.files.load_pose, "Load a pose", POSE_FILTER)),
                action("&Save pose…", lambda: ask(session.files.save_pose, "Save the pose", POSE_FILTER, "pose.json"),
                       QKeySequence.StandardKey.Save), None,
                action("Export &image…",
                       lambda: ask(session.files.export_image, "Export the image", PNG_FILTER, "hand.png"), "Ctrl+E"),
                action("Export latent &walk…", lambda: ask(
                    lambda path: session.files.export_walk(path, self.latent_panel.walk_frames()), "Export the latent walk",
                    "GIF (*.gif);;MP4 video (*.mp4)", "walk.gif")),
                action("Export &transfer…", lambda: self.export_transfer()),
                action("Export &pose as…", self.export_pose_as),
                action("Import &OpenPose hand…", lambda: ask(session.files.import_openpose, "Import an OpenPose hand",
                                                              "OpenPose JSON (*.json)")), None,
                action("&Quit", self.close, QKeySequence.StandardKey.Quit)]),
            ("&Edit", [self.undo_action, self.redo_action]),
            ("&Train", [action("&Train a model…", self.open_training_dialog),
                        action("&Load checkpoint…", lambda: ask(self.load_model_file, "Load a trained model",
                                                                "Models (*.safetensors)", folder="runs"))]),
            ("&View", [*(dock.toggleViewAction() for dock in self.docks.values()), None,
                       action("Reset &layout", self.reset_layout)]),
        ])
        session.history.changed.connect(self._refresh_undo)
        self._refresh_recent()
        self._refresh_undo()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for path in files:
            self.recent_menu.addAction(make_action(self.recent_menu, path, lambda p=path: self.open_photo(p)))
        self.recent_menu.setEnabled(bool(files))

    def _refresh_undo(self) -> None:
        history = self.session.history
        self.undo_action.setEnabled(history.can_undo())
        self.redo_action.setEnabled(history.can_redo())
        self.undo_action.setText(f"&Undo {history.undo_label()}".rstrip())
        self.redo_action.setText(f"&Redo {history.redo_label()}".rstrip())

    # --- state -> widgets ------------------------------------------------------------
    def _on_image(self) -> None:
        self.image_view.set_image(self.session.image.image, self.session.image.version)

    def _show_model(self, description: str) -> None:
        model = self.session.model
        self.model_label.setText(f"{description}  ·  latent {model.dim}  ·  reads {model.image_size} px, "
                                 f"draws {model.output_size} px")

    def _on_message(self, message: Message) -> None:
        self.statusBar().showMessage(message.text, 8000)
        if message.level == "error" and self.show_dialogs:
            box = QMessageBox(QMessageBox.Icon.Warning, "dVAE Hands", message.text, QMessageBox.StandardButton.Ok, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.setModal(False)
            box.show()

    # --- files -------------------------------------------------------------------------
    def open_photo(self, path: str | None = None) -> bool:
        if not path:
            path = self.open_file_name("Open a photo of a hand", self._last_dir(), IMAGE_FILTER)
            if not path:
                return False
        ok = self.session.open_photo(path)
        if ok:
            self._add_recent(str(path))
            self.docks["photo"].raise_()
        return ok

    def _last_dir(self) -> str:
        recent = self.recent_files()
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, path: str) -> None:
        files = [path] + [f for f in self.recent_files() if f != path]
        self.settings.setValue("recent_files", files[:MAX_RECENT])
        self._refresh_recent()

    def output_dir(self) -> Path:
        """Where save dialogs start: the folder of the last file saved, else ``~/dVAE Hands`` (one
        place for the user's outputs, not the last photo's folder nor wherever the app started)."""
        value = self.settings.value("output_dir", "")
        return Path(str(value)) if value else Path.home() / OUTPUT_FOLDER

    def save_file_name(self, title: str, suggestion: str, filters: str) -> str:
        folder = self.output_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path, _ = QFileDialog.getSaveFileName(self, title, str(folder / suggestion), filters)
        if path:
            self.settings.setValue("output_dir", str(Path(path).parent))
        return path

    def open_file_name(self, title: str, folder: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self, title, folder, filters)
        return path

    def ask_file(self, use: Callable[[str], object], title: str, filters: str, save_as: str | None = None,
                 folder: str = "") -> None:
        """Ask for a file to save (``save_as``: the suggested name) or, without one, to open from
        ``folder``; then ``use(path)``. Nothing happens when the dialog is cancelled."""
        path = self.save_file_name(title, save_as, filters) if save_as is not None else \
            self.open_file_name(title, folder, filters)
        if path:
            use(path)

    def export_transfer(self, path: str | None = None) -> None:
        path = path or self.save_file_name("Export the transfer", "transfer.png", PNG_FILTER)
        if path:
            self.session.files.export_transfer(path)

    def export_pose_as(self) -> None:
        size, ok = QInputDialog.getInt(self, "Export pose as", "Canvas side (pixels):", 512, 64, 4096, 64)
        if not ok:
            return
        path = self.save_file_name(
            "Export the pose: OpenPose JSON, skeleton, depth map, mask and image (NAME_*.json / .png)", "hand",
            "Base name (*)")
        if path:
            base = Path(path)
            base = base.with_suffix("") if base.suffix.lower() in (".png", ".json") else base
            self.session.files.export_pose_as(base, size, self.pose_panel.view_rotation())

    # --- models and training ---------------------------------------------------------
    def set_model(self, model: ModelService) -> None:
        self.session.set_model(model)

    def open_training_dialog(self) -> QDialog:
        """Show the Train dialog (one per window, kept between openings)."""
        if self.training_dialog is None:
            from app.training_dialog import TrainingDialog  # imports train: only when asked for

            self.training_dialog = TrainingDialog(self, self.training, self.session.model_in_use())
            self.training_dialog.run_dir.setText(str(self.output_dir() / "runs"))  # not runs/ under the cwd
        self.training_dialog.show()
        self.training_dialog.raise_()
        return self.training_dialog

    def load_model_file(self, path: str | Path) -> bool:
        """Switch to the model at ``path``; False (and a message) if it cannot be loaded."""
        try:
            model = ModelService.load(path)
        except MODEL_LOAD_ERRORS as err:  # wrong kind of file, truncated, another architecture
            self.session.messages.post("error", f"Cannot load {path}: {err}")
            return False
        self.set_model(model)
        return True

    # --- settings, drag-and-drop, closing ---------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()

    def reset_layout(self) -> None:
        self.restoreState(self._default_state)
        for dock in self.docks.values():
            dock.show()

    def confirm_stop_training(self) -> bool:
        """Ask whether to stop the running training (yes without asking when dialogs are off)."""
        if not self.show_dialogs:
            return True
        answer = QMessageBox.question(
            self, "dVAE Hands", "A training run is going. Stop it and quit? Its last checkpoint is kept.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_photo(url.toLocalFile())
                event.acceptProposedAction()
                return

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.training.is_running():
            if not self.confirm_stop_training():
                event.ignore()
                return
            self.training.stop_and_wait()  # the trainer checkpoints the last step
        self.walk.stop()
        self.save_settings()
        self.runner.stop()
        super().closeEvent(event)
