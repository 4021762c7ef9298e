"""The 3D pose dock: the skeleton viewport with gesture presets, handedness and view buttons."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

import numpy as np

from app.edits import PoseEdits
from app.hand_pose import PRESET_NAMES
from app.state import PoseState
from app.widgets.skeleton_view import SkeletonView


class PosePanel(QWidget):
    """Observes ``pose`` (through the viewport and the handedness box); requests go to ``edits``."""

    def __init__(self, pose: PoseState, edits: PoseEdits, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pose = pose
        self.edits = edits
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        row.addWidget(QLabel("Gesture"))
        self.presets = QComboBox()
        self.presets.addItem("choose…", None)
        for name in PRESET_NAMES:
            self.presets.addItem(name.replace("_", " "), name)
        self.presets.activated.connect(self._on_preset)
        row.addWidget(self.presets, 1)
        self.left_hand = QCheckBox("Left hand")
        self.left_hand.toggled.connect(self._on_left_toggled)
        row.addWidget(self.left_hand)
        self.link = QCheckBox("Image follows view")
        self.link.setToolTip("Orbiting the 3D view turns the hand in the synthesised image (its viewpoint)")
        row.addWidget(self.link)
        reset = QPushButton("Reset view")
        row.addWidget(reset)
        layout.addLayout(row)
        self.view = SkeletonView(pose, edits)
        reset.clicked.connect(self.view.reset_view)
        self.link.toggled.connect(pose.set_image_follows_view)
        pose.view_link_changed.connect(self.link.setChecked)
        layout.addWidget(self.view, 1)
        hint = QLabel("Drag a joint to pose the hand; drag elsewhere to orbit, wheel to zoom.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        pose.changed.connect(self._on_pose)

    def view_rotation(self) -> np.ndarray:
        """(3, 3), camera frame: the turn of the hand that shows it as the 3D view does."""
        return self.view.view_rotation()

    def _on_preset(self, index: int) -> None:
        name = self.presets.itemData(index)
        if name is not None:
            self.edits.apply_preset(name)
        self.presets.setCurrentIndex(0)

    def _on_left_toggled(self, checked: bool) -> None:
        hand = self.pose.hand
        if hand is not None and hand.is_left != checked:
            self.edits.set_left_hand(checked)

    def _on_pose(self) -> None:
        hand = self.pose.hand
        if hand is not None and self.left_hand.isChecked() != hand.is_left:
            self.left_hand.blockSignals(True)
            self.left_hand.setChecked(hand.is_left)
            self.left_hand.blockSignals(False)
