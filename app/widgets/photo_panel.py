"""Photo panel: the opened photo, a square crop box over the hand, and the estimated 2D skeleton.

The crop box is a pyqtgraph ROI with its aspect ratio locked; moving or resizing it sets
``PhotoState.crop`` when the drag ends, which makes the session estimate again. Joint dots are
coloured and sized by confidence (small and red = unsure).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.state import PhotoState
from app.widgets.skeleton_view import JOINT_COLOURS
from core.hand.joints import BONES


class PhotoPanel(QWidget):
    """Observes ``photo``; forwards crop moves to ``PhotoState.set_crop``; its buttons call
    ``open_photo()`` and ``estimate()``."""

    def __init__(self, photo: PhotoState, open_photo: Callable[[], object], estimate: Callable[[], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.photo = photo
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        open_button = QPushButton("Open image…")
        open_button.clicked.connect(lambda _checked=False: open_photo())
        self.estimate_button = QPushButton("Estimate again")
        self.estimate_button.clicked.connect(lambda _checked=False: estimate())
        self.info = QLabel("Open a photo (or drop one on the window) to estimate its hand pose.")
        self.info.setWordWrap(True)
        row.addWidget(open_button)
        row.addWidget(self.estimate_button)
        layout.addLayout(row)
        layout.addWidget(self.info)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground((32, 32, 36))
        self.view = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        self.bones = pg.PlotDataItem(connect="pairs", pen=pg.mkPen((240, 240, 240), width=2))
        self.joints = pg.ScatterPlotItem(pen=pg.mkPen((20, 20, 20), width=1))
        self.view.addItem(self.bones)
        self.view.addItem(self.joints)
        self.roi = pg.ROI((0, 0), (100, 100), pen=pg.mkPen((255, 220, 0), width=2), movable=True, removable=False)
        self.roi.addScaleHandle((1, 1), (0, 0), lockAspect=True)
        self.roi.addScaleHandle((0, 0), (1, 1), lockAspect=True)
        self.roi.sigRegionChangeFinished.connect(self._on_roi_moved)
        self.roi.setVisible(False)
        self.view.addItem(self.roi)
        layout.addWidget(self.graphics, 1)
        self._syncing = False

        photo.image_changed.connect(self._on_image)
        photo.crop_changed.connect(self._on_crop)
        photo.estimate_changed.connect(self._on_estimate)

    def _on_image(self) -> None:
        photo = self.photo
        self.image_item.setImage(photo.image, autoLevels=False, levels=(0, 255))
        h, w = photo.image.shape[:2]
        self.view.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)
        self.roi.setVisible(True)
        self.info.setText(f"{photo.path or 'photo'}: {w} x {h}. Move or resize the yellow box over the hand.")
        self._on_estimate()

    def _on_crop(self) -> None:
        x, y, side = self.photo.crop
        self._syncing = True
        try:
            self.roi.setPos((x, y), update=False, finish=False)
            self.roi.setSize((side, side), update=True, finish=False)
        finally:
            self._syncing = False

    def _on_roi_moved(self) -> None:
        if self._syncing or self.photo.image is None:
            return
        x, y = self.roi.pos()
        w, h = self.roi.size()
        self.photo.set_crop((x, y, 0.5 * (w + h)))

    def _on_estimate(self) -> None:
        estimate = self.photo.estimate
        if estimate is None:
            self.bones.setData([], [])
            self.joints.setData([], [])
            return
        kp = estimate.keypoints_2d
        segments = np.array([kp[i] for bone in BONES for i in bone])
        self.bones.setData(segments[:, 0], segments[:, 1])
        c = np.clip(estimate.confidence, 0.0, 1.0)
        colours = JOINT_COLOURS[:, :3] * c[:, None] + (1 - c[:, None]) * np.array([1.0, 0.1, 0.1])
        brushes = [pg.mkBrush(*(255 * col).astype(int)) for col in colours]
        self.joints.setData(kp[:, 0], kp[:, 1], size=5 + 9 * c, brush=brushes)

    def overlay_points(self) -> int:
        """How many joints are drawn on the photo (tests read this)."""
        return len(self.joints.data)
