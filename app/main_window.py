"""The main window: docks around the session's state, menus, settings, drag-and-drop of photos."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QWidget

from app.menus import build_menus
from app.model_service import ModelService
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
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.PNG *.JPG *.JPEG);;All files (*)"


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
        self.training_dialog = None

        self.image_view = ImageView("synthesising…")
        self.walk = WalkPlayer(self.session)
        self.latent_panel = LatentPanel(self.session, self.walk)
        self.pose_panel = PosePanel(self.session)
        self.photo_panel = PhotoPanel(self.session, self.open_photo)
        self.transfer_panel = TransferPanel(self.session, self.export_transfer)
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
        self.menus = build_menus(self)
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

    # --- state -> widgets ------------------------------------------------------------
    def _on_image(self) -> None:
        self.image_view.set_image(self.session.image.image, self.session.image.version)

    def _show_model(self, description: str) -> None:
        self.model_label.setText(f"{description}  ·  latent {self.session.model.dim}  ·  "
                                 f"{self.session.model.image_size} px")

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
            path, _ = QFileDialog.getOpenFileName(self, "Open a photo of a hand", self._last_dir(), IMAGE_FILTER)
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
        self.menus.refresh_recent()

    def save_file_name(self, title: str, suggestion: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path(self._last_dir()) / suggestion), filters)
        return path

    def export_transfer(self, path: str | None = None) -> None:
        path = path or self.save_file_name("Export the transfer", "transfer.png", "PNG (*.png)")
        if path:
            self.session.export_transfer(path)

    def set_model(self, model: ModelService) -> None:
        self.session.set_model(model)

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
