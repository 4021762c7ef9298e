"""Photo panel: the opened photo, a square crop box over the hand, the hands found in the photo
and the estimated 2D skeleton, all drawn in the photo's own pixel coordinates.

The crop box is a pyqtgraph ROI with its aspect ratio locked; moving or resizing it sets
``PhotoState.crop`` when the drag ends, which makes the session estimate again. Found hands are
dashed boxes and a list to pick from; the skeleton's lines and joints are sized to the box (thin on
a small hand), the joints coloured and sized by confidence (small and red = unsure), the framed
hand is shown enlarged beside the photo, and lines say what the estimate is made of and when it is
doubtful (in red). "Flip left/right" estimates the hand again as the other side.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.photo_session import CONFIDENCE_MEANING
from app.state import PhotoState
from app.widgets.skeleton_view import JOINT_COLOURS
from core.hand.joints import BONES


class PhotoPanel(QWidget):
    """Observes ``photo``; forwards crop moves to ``PhotoState.set_crop``; its buttons and list call
    ``open_photo()``, ``estimate()``, ``flip_side()``, ``choose_hand(index)`` and
    ``save_estimate(base path)``; ``save_file_name(title, name, filters)`` asks where."""

    def __init__(self, photo: PhotoState, open_photo: Callable[[], object], estimate: Callable[[], None],
                 flip_side: Callable[[], None] = lambda: None, choose_hand: Callable[[int], None] = lambda i: None,
                 save_estimate: Callable[[str], object] = lambda base: None,
                 save_file_name: Callable[[str, str, str], str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.photo = photo
        self._choose_hand, self._save_estimate = choose_hand, save_estimate
        # (title, suggested name, filters) -> the chosen path or "": the window's, which starts in
        # the user's remembered output folder
        self._save_file_name = save_file_name or (
            lambda title, name, filters: QFileDialog.getSaveFileName(self, title, name, filters)[0])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        open_button = QPushButton("Open image…")
        open_button.clicked.connect(lambda _checked=False: open_photo())
        self.estimate_button = QPushButton("Estimate again")
        self.estimate_button.clicked.connect(lambda _checked=False: estimate())
        self.flip_button = QPushButton("Flip left/right")
        self.flip_button.setToolTip("Estimate this hand again as the other side of the hand")
        self.flip_button.clicked.connect(lambda _checked=False: flip_side())
        self.save_button = QPushButton("Save keypoints…")
        self.save_button.setToolTip("The estimate in the photo's pixels: pose JSON and OpenPose JSON")
        self.save_button.clicked.connect(lambda _checked=False: self._save())
        self.hand_list = QComboBox()
        self.hand_list.setToolTip("Hands found in the photo, best first: pick one to frame it")
        self.hand_list.activated.connect(self._on_hand_picked)
        self.info = QLabel("Open a photo (or drop one on the window) to estimate its hand pose.")
        self.info.setWordWrap(True)
        self.confidence = QLabel("")
        self.confidence.setWordWrap(True)
        self.confidence.setToolTip(CONFIDENCE_MEANING)
        for widget in (open_button, self.estimate_button, self.flip_button, self.save_button, self.hand_list):
            row.addWidget(widget)
        layout.addLayout(row)
        layout.addWidget(self.info)
        layout.addWidget(self.confidence)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground((32, 32, 36))
        self.view = self.graphics.addViewBox(row=0, col=0, lockAspect=True, invertY=True, enableMenu=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        self.bones, self.joints = _skeleton_items(self.view)
        self.found = pg.PlotDataItem(connect="pairs", pen=pg.mkPen((0, 200, 255), width=1, style=Qt.PenStyle.DashLine))
        self.view.addItem(self.found)
        # the framed hand enlarged, with the same skeleton, beside the whole photo
        self.zoom = self.graphics.addViewBox(row=0, col=1, lockAspect=True, invertY=True, enableMenu=False,
                                             enableMouse=False)
        self.zoom_image = pg.ImageItem(axisOrder="row-major")
        self.zoom.addItem(self.zoom_image)
        self.zoom_bones, self.zoom_joints = _skeleton_items(self.zoom)
        self.graphics.ci.layout.setColumnStretchFactor(0, 3)
        self.graphics.ci.layout.setColumnStretchFactor(1, 2)
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
        photo.hands_changed.connect(self._on_hands)
        self._on_hands()

    def _on_image(self) -> None:
        photo = self.photo
        self.image_item.setImage(photo.image, autoLevels=False, levels=(0, 255))
        h, w = photo.image.shape[:2]
        self.view.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)
        self.roi.setVisible(True)
        self.info.setText(f"{photo.path or 'photo'}: {w} x {h}. Looking for hands…")
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

    def _on_hands(self) -> None:
        photo = self.photo
        hands = photo.hands or []
        self.hand_list.blockSignals(True)
        self.hand_list.clear()
        for i, det in enumerate(hands):
            by = det.evidence if det.by_mediapipe else f"the project's finder, less sure: {det.evidence}"
            self.hand_list.addItem(f"{i + 1}: {det.hand} hand ({by})")
        if photo.hand_index is not None:
            self.hand_list.setCurrentIndex(photo.hand_index)
        self.hand_list.blockSignals(False)
        self.hand_list.setEnabled(len(hands) > 1)
        self.hand_list.setVisible(bool(hands))
        points = np.array([p for det in hands for p in _outline(det.box)]) if hands else np.zeros((0, 2))
        if len(points):
            self.found.setData(points[:, 0], points[:, 1])
        else:
            self.found.setData([], [])
        if photo.image is None:
            return
        h, w = photo.image.shape[:2]
        if not photo.searched:
            self.info.setText(f"{photo.path or 'photo'}: {w} x {h}. No hand finder is bundled: move or resize the "
                              "yellow box over the hand.")
        elif photo.hands is None:
            return
        elif not hands:
            self.info.setText(f"{photo.path or 'photo'}: {w} x {h}. No hand found: move or resize the yellow box "
                              "over the hand.")
        else:
            self.info.setText(f"{photo.path or 'photo'}: {w} x {h}. {len(hands)} hand{'s' if len(hands) > 1 else ''} "
                              "found (dashed boxes); the yellow box frames the one estimated and can be moved.")

    def _on_hand_picked(self, index: int) -> None:
        if self.photo.hands and 0 <= index < len(self.photo.hands):
            self._choose_hand(index)

    def _save(self) -> None:
        path = self._save_file_name("Save the photo's keypoints (a base name)", "hand", "JSON (*.json)")
        if path:
            self._save_estimate(path.removesuffix(".json"))

    def _on_estimate(self) -> None:
        estimate = self.photo.estimate
        if estimate is None:
            for item in (self.bones, self.joints, self.zoom_bones, self.zoom_joints):
                item.setData([], [])
            self.zoom_image.clear()
            self.confidence.setText("")
            return
        side = f"{'left' if estimate.is_left else 'right'} hand ({estimate.side_by})"
        text = f"{side}. {estimate.note}"
        self.confidence.setText(f"<span style='color:#d03030'>{text}</span>" if estimate.low_confidence else text)
        box_side = estimate.box_side or float(np.ptp(estimate.keypoints_2d, axis=0).max() * 4 / 3)
        _draw_skeleton(self.bones, self.joints, estimate.keypoints_2d, estimate.confidence, box_side)
        if estimate.enlarged is not None and estimate.enlarged_keypoints is not None:
            self.zoom_image.setImage(estimate.enlarged, autoLevels=False, levels=(0, 255))
            size = estimate.enlarged.shape[0]
            self.zoom.setRange(xRange=(0, size), yRange=(0, size), padding=0.0)
            _draw_skeleton(self.zoom_bones, self.zoom_joints, estimate.enlarged_keypoints, estimate.confidence, size)

    def overlay_points(self) -> int:
        """How many joints are drawn on the photo (tests read this)."""
        return len(self.joints.data)


# Line width and joint diameter as shares of the box's side: thin on a small hand, never hiding it.
BONE_WIDTH, JOINT_SIZE = 0.012, 0.03


def _skeleton_items(view: pg.ViewBox) -> tuple[pg.PlotDataItem, pg.ScatterPlotItem]:
    """Bones and joints in ``view``'s data coordinates (sizes in photo pixels, not screen pixels)."""
    bones = pg.PlotDataItem(connect="pairs", pen=pg.mkPen((240, 240, 240), width=1))
    joints = pg.ScatterPlotItem(pxMode=False, pen=None)
    view.addItem(bones)
    view.addItem(joints)
    return bones, joints


def _draw_skeleton(bones: pg.PlotDataItem, joints: pg.ScatterPlotItem, keypoints: np.ndarray,
                   confidence: np.ndarray, box_side: float) -> None:
    """Draw keypoints (21, 2) with bones ``BONE_WIDTH`` and joints ``JOINT_SIZE`` of ``box_side``;
    joint colours fade to red with confidence (21,)."""
    segments = np.array([keypoints[i] for bone in BONES for i in bone])
    pen = pg.mkPen((240, 240, 240), width=max(BONE_WIDTH * box_side, 0.5))
    pen.setCosmetic(False)
    bones.setPen(pen)
    bones.setData(segments[:, 0], segments[:, 1])
    c = np.clip(confidence, 0.0, 1.0)
    colours = JOINT_COLOURS[:, :3] * c[:, None] + (1 - c[:, None]) * np.array([1.0, 0.1, 0.1])
    brushes = [pg.mkBrush(*(255 * col).astype(int)) for col in colours]
    joints.setData(keypoints[:, 0], keypoints[:, 1], size=JOINT_SIZE * box_side * (0.6 + 0.4 * c), brush=brushes)


def _outline(b: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    """The four sides of box (x0, y0, x1, y1) as point pairs (for ``connect="pairs"``)."""
    return [(b[0], b[1]), (b[2], b[1]), (b[2], b[1]), (b[2], b[3]), (b[2], b[3]), (b[0], b[3]), (b[0], b[3]), (b[0], b[1])]
