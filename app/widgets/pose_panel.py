"""The 3D pose dock: the skeleton viewport with gesture presets, handedness and view buttons."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.hand_pose import PRESET_NAMES
from app.session import Session
from app.widgets.skeleton_view import SkeletonView


class PosePanel(QWidget):
    """Observes ``session.pose`` (through the viewport and the handedness box)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
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
        self.view = SkeletonView(session)
        reset.clicked.connect(self.view.reset_view)
        self.link.toggled.connect(session.pose.set_image_follows_view)
        session.pose.view_link_changed.connect(self.link.setChecked)
        layout.addWidget(self.view, 1)
        hint = QLabel("Drag a joint to pose the hand; drag elsewhere to orbit, wheel to zoom.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        session.pose.changed.connect(self._on_pose)

    def _on_preset(self, index: int) -> None:
        name = self.presets.itemData(index)
        if name is not None:
            self.session.apply_preset(name)
        self.presets.setCurrentIndex(0)

    def _on_left_toggled(self, checked: bool) -> None:
        hand = self.session.pose.hand
        if hand is not None and hand.is_left != checked:
            self.session.set_left_hand(checked)

    def _on_pose(self) -> None:
        hand = self.session.pose.hand
        if hand is not None and self.left_hand.isChecked() != hand.is_left:
            self.left_hand.blockSignals(True)
            self.left_hand.setChecked(hand.is_left)
            self.left_hand.blockSignals(False)
