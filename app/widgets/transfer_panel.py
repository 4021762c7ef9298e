"""Pose transfer side by side: content from A, pose from B, and the result."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.edits import TransferEdits
from app.transfer import SOURCE_KINDS, SLOTS, TransferState
from app.widgets.image_view import ImageView

_KIND_LABELS = {"photo": "the photo", "sample": "a random sample", "edit": "the current edit", "kept": "kept (none)"}


class TransferPanel(QWidget):
    """Observes a ``TransferState`` (``set_transfer`` switches to another one); source kinds and
    swapping change that state, the other controls call ``edits``."""

    def __init__(self, transfer: TransferState, edits: TransferEdits, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.transfer = transfer
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        grid = QGridLayout()
        self.kind_boxes: dict[str, QComboBox] = {}
        self.views: dict[str, ImageView] = {}
        titles = {"A": "A: content", "B": "B: pose", "result": "result"}
        for col, key in enumerate(("A", "B", "result")):
            grid.addWidget(QLabel(titles[key]), 0, col)
            view = ImageView("—")
            view.setMinimumSize(96, 96)
            self.views[key] = view
            grid.addWidget(view, 2, col)
        for col, slot in enumerate(SLOTS):
            box = QComboBox()
            for kind in SOURCE_KINDS:
                box.addItem(_KIND_LABELS[kind], kind)
            box.currentIndexChanged.connect(lambda _i, s=slot: self._on_kind(s))
            self.kind_boxes[slot] = box
            sample = QPushButton("New sample")
            sample.clicked.connect(lambda _=False, s=slot: edits.new_sample(s))
            keep = QPushButton("Keep")
            keep.setToolTip("Keep this source (e.g. this photo) while you open another photo or edit")
            keep.clicked.connect(lambda _=False, s=slot: edits.keep(s))
            box.setMinimumContentsLength(8)
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            buttons = QHBoxLayout()
            buttons.addWidget(sample)
            buttons.addWidget(keep)
            grid.addWidget(box, 1, col)
            grid.addLayout(buttons, 3, col)
        for col in range(3):
            grid.setColumnStretch(col, 1)
        grid.setRowStretch(2, 1)
        layout.addLayout(grid, 1)
        row = QHBoxLayout()
        for text, slot in (("Swap A and B", lambda: self.transfer.swap()), ("Update", edits.update),
                           ("Export…", edits.export)):
            button = QPushButton(text)
            button.clicked.connect(lambda _checked=False, run=slot: run())
            row.addWidget(button)
        layout.addLayout(row)
        self._syncing = False
        transfer.sources_changed.connect(self._sync_boxes)
        transfer.images_changed.connect(self._on_images)
        self._sync_boxes()

    def set_transfer(self, transfer: TransferState) -> None:
        """Show ``transfer`` instead (another model's latent size) and stop observing the old one."""
        self.transfer.sources_changed.disconnect(self._sync_boxes)
        self.transfer.images_changed.disconnect(self._on_images)
        self.transfer = transfer
        transfer.sources_changed.connect(self._sync_boxes)
        transfer.images_changed.connect(self._on_images)
        self._sync_boxes()
        self._on_images()

    def _on_kind(self, slot: str) -> None:
        if not self._syncing:
            self.transfer.set_kind(slot, self.kind_boxes[slot].currentData())

    def _sync_boxes(self) -> None:
        self._syncing = True
        try:
            for slot, box in self.kind_boxes.items():
                kept = self.transfer.kept.get(slot)
                box.setItemText(box.findData("kept"), f"kept: {kept[2]}" if kept else _KIND_LABELS["kept"])
                box.setCurrentIndex(box.findData(self.transfer.kinds[slot]))
        finally:
            self._syncing = False

    def _on_images(self) -> None:
        for key, view in self.views.items():
            view.set_image(self.transfer.images[key])
