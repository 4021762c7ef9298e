"""The main window's menus and their actions (file dialogs here; work in the session)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from app.main_window import MainWindow


class Menus:
    """Holds the actions whose state changes (undo/redo, recent files)."""

    def __init__(self, window: "MainWindow") -> None:
        self.window = window
        session = window.session
        bar = window.menuBar()

        file_menu = bar.addMenu("&File")
        self._action(file_menu, "&Open image…", window.open_photo, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addSeparator()
        self._action(file_menu, "&Load pose…", self.load_pose)
        self._action(file_menu, "&Save pose…", self.save_pose, QKeySequence.StandardKey.Save)
        file_menu.addSeparator()
        self._action(file_menu, "Export &image…", self.export_image, "Ctrl+E")
        self._action(file_menu, "Export latent &walk…", self.export_walk)
        self._action(file_menu, "Export &transfer…", lambda: window.export_transfer())
        self._action(file_menu, "Export &pose as…", self.export_pose_as)
        self._action(file_menu, "Import &OpenPose hand…", self.import_openpose)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)

        edit_menu = bar.addMenu("&Edit")
        self.undo_action = self._action(edit_menu, "&Undo", session.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit_menu, "&Redo", session.redo, QKeySequence.StandardKey.Redo)
        session.history.changed.connect(self._refresh_undo)

        self.train_menu = bar.addMenu("&Train")
        self._action(self.train_menu, "&Train a model…", self.train)
        self._action(self.train_menu, "&Load checkpoint…", self.load_checkpoint)

        view_menu = bar.addMenu("&View")
        for dock in window.docks.values():
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        self._action(view_menu, "Reset &layout", window.reset_layout)
        self.refresh_recent()
        self._refresh_undo()

    def _action(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self.window)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def refresh_recent(self) -> None:
        self.recent_menu.clear()
        files = self.window.recent_files()
        for path in files:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: self.window.open_photo(p))
        self.recent_menu.setEnabled(bool(files))

    def _refresh_undo(self) -> None:
        history = self.window.session.history
        self.undo_action.setEnabled(history.can_undo())
        self.redo_action.setEnabled(history.can_redo())
        self.undo_action.setText(f"&Undo {history.undo_label()}".rstrip())
        self.redo_action.setText(f"&Redo {history.redo_label()}".rstrip())

    # --- file dialogs ------------------------------------------------------------------
    def load_pose(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self.window, "Load a pose", "", "Pose JSON (*.json)")
        if path:
            self.window.session.load_pose(path)

    def save_pose(self) -> None:
        path = self.window.save_file_name("Save the pose", "pose.json", "Pose JSON (*.json)")
        if path:
            self.window.session.save_pose(path)

    def export_image(self) -> None:
        path = self.window.save_file_name("Export the image", "hand.png", "PNG (*.png)")
        if path:
            self.window.session.export_image(path)

    def export_walk(self) -> None:
        path = self.window.save_file_name("Export the latent walk", "walk.gif", "GIF (*.gif);;MP4 video (*.mp4)")
        if path:
            self.window.session.export_walk(path, self.window.latent_panel.walk_frames())

    def export_pose_as(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        size, ok = QInputDialog.getInt(self.window, "Export pose as", "Canvas side (pixels):", 512, 64, 4096, 64)
        if not ok:
            return
        path = self.window.save_file_name(
            "Export the pose: OpenPose JSON, skeleton, depth map, mask and image (NAME_*.json / .png)", "hand",
            "Base name (*)")
        if path:
            base = Path(path)
            base = base.with_suffix("") if base.suffix.lower() in (".png", ".json") else base
            self.window.session.export_pose_as(base, size, self.window.pose_panel.view.view_rotation())

    def import_openpose(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self.window, "Import an OpenPose hand", "", "OpenPose JSON (*.json)")
        if path:
            self.window.session.import_openpose(path)

    def train(self) -> None:
        from app.training_dialog import open_training_dialog

        open_training_dialog(self.window)

    def load_checkpoint(self) -> None:
        from app.training_dialog import load_checkpoint_dialog

        load_checkpoint_dialog(self.window)


def build_menus(window: "MainWindow") -> Menus:
    return Menus(window)
