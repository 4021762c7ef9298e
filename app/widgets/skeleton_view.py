"""3D skeleton viewport: the current pose, with joints that can be dragged (inverse kinematics).

Picking projects the joints to the screen ourselves (``GLViewWidget.itemsAt`` returns whole
items): a press within ``PICK_RADIUS_PX`` of a joint starts a drag, which unprojects the mouse
at that joint's depth and asks for IK (``PoseEdits.drag_joint``). Any other press falls through to the base
class, so orbit, pan and zoom keep working.

Axes: the pose is in the camera frame (OpenCV: x right, y down, z forward); the GL scene uses
z up, so a camera point (x, y, z) is drawn at (x, z, -y). The default view looks along +z of
the camera, i.e. it shows the hand as the synthesised image does.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph.opengl as gl
from pyqtgraph import Vector
from PySide6.QtCore import Qt

from app.edits import PoseEdits
from app.state import PoseState
from app.view_link import (DEFAULT_AZIMUTH, DEFAULT_ELEVATION, camera_to_scene, hand_rotation_for_view, nearest_point,
                           project_to_widget, scene_to_camera, unproject_from_widget)
from core.hand.joints import BONES, NUM_JOINTS

PICK_RADIUS_PX = 12.0
_FINGER_COLOURS = np.array([
    [0.85, 0.85, 0.85, 1.0],  # wrist
    [0.95, 0.35, 0.35, 1.0],  # thumb
    [0.95, 0.75, 0.25, 1.0],  # index
    [0.35, 0.85, 0.35, 1.0],  # middle
    [0.30, 0.65, 0.95, 1.0],  # ring
    [0.75, 0.45, 0.95, 1.0],  # pinky
])
JOINT_COLOURS = np.array([_FINGER_COLOURS[0 if j == 0 else 1 + (j - 1) // 4] for j in range(NUM_JOINTS)])


class SkeletonView(gl.GLViewWidget):
    """Observes ``pose``; joint drags call ``edits.drag_joint`` / ``end_drag``."""

    def __init__(self, pose: PoseState, edits: PoseEdits, parent=None) -> None:
        super().__init__(parent)
        self.pose = pose
        self.edits = edits
        self.setBackgroundColor((24, 24, 28))
        self.setMinimumSize(160, 160)
        grid = gl.GLGridItem()
        grid.setSize(300, 300)
        grid.setSpacing(20, 20)
        grid.translate(0, 0, -110)
        self.addItem(grid)
        self._bones = gl.GLLinePlotItem(mode="lines", width=3, antialias=True, color=(0.9, 0.9, 0.9, 1))
        self._joints = gl.GLScatterPlotItem(pxMode=True)
        self._joints.setGLOptions("translucent")
        self.addItem(self._bones)
        self.addItem(self._joints)
        self.dragging: int | None = None
        self._drag_depth = 0.0
        self._centred = False
        self.reset_view()
        pose.changed.connect(self._on_pose_changed)
        pose.view_link_changed.connect(self._on_view_link_changed)
        self._on_pose_changed()

    def reset_view(self) -> None:
        """Look along the camera's +z, as the synthesised image does."""
        points = self.scene_joints()
        centre = np.zeros(3) if points is None else 0.5 * (points[0] + points[9])  # palm centre
        self.setCameraPosition(pos=Vector(*centre), distance=420, elevation=DEFAULT_ELEVATION, azimuth=DEFAULT_AZIMUTH)

    def view_rotation(self) -> np.ndarray:
        """(3, 3), camera frame: the turn of the hand that shows it as this view does (File > Export pose as)."""
        return hand_rotation_for_view(self.opts["azimuth"], self.opts["elevation"])

    def apply_view_to_hand(self) -> None:
        """Turn the hand so the image shows it as the orbit camera does, then look from the front again."""
        azimuth, elevation = self.opts["azimuth"], self.opts["elevation"]
        if abs(azimuth - DEFAULT_AZIMUTH) < 1e-6 and abs(elevation - DEFAULT_ELEVATION) < 1e-6:
            return
        self.edits.turn_hand(hand_rotation_for_view(azimuth, elevation), "orbit the hand")
        self.setCameraPosition(elevation=DEFAULT_ELEVATION, azimuth=DEFAULT_AZIMUTH)

    def _on_view_link_changed(self, linked: bool) -> None:
        if linked:
            self.apply_view_to_hand()

    # --- drawing ---------------------------------------------------------------------
    def scene_joints(self) -> np.ndarray | None:
        keypoints = self.pose.keypoints
        return None if keypoints is None else camera_to_scene(keypoints)

    def _on_pose_changed(self) -> None:
        points = self.scene_joints()
        if points is None:
            self._bones.setData(pos=np.zeros((0, 3)))
            self._joints.setData(pos=np.zeros((0, 3)))
            return
        if not self._centred:
            self._centred = True
            self.reset_view()
        segments = np.array([points[i] for bone in BONES for i in bone])
        confidence = self.pose.confidence
        colours = JOINT_COLOURS.copy()
        sizes = np.full(NUM_JOINTS, 12.0)
        if confidence is not None:
            # low confidence: smaller and redder joints
            c = np.clip(confidence, 0.0, 1.0)[:, None]
            colours[:, :3] = c * colours[:, :3] + (1 - c) * np.array([1.0, 0.1, 0.1])
            sizes = 6.0 + 10.0 * c[:, 0]
        self._bones.setData(pos=segments)
        self._joints.setData(pos=points, color=colours, size=sizes)

    # --- picking ---------------------------------------------------------------------
    def _mvp(self) -> np.ndarray:
        dpr = self.devicePixelRatioF()
        region = (0, 0, int(self.width() * dpr), int(self.height() * dpr))
        matrix = self.projectionMatrix(region, region) * self.viewMatrix()
        return np.array(matrix.data(), np.float64).reshape(4, 4).T

    def project(self, scene_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scene points (N, 3) -> (widget pixels (N, 2), NDC depth (N,))."""
        return project_to_widget(scene_points, self._mvp(), self.width(), self.height())

    def unproject(self, x: float, y: float, depth: float) -> np.ndarray:
        """Widget pixel (x, y) at NDC ``depth`` -> scene point (3,)."""
        return unproject_from_widget(x, y, depth, self._mvp(), self.width(), self.height())

    def joint_at(self, x: float, y: float) -> int | None:
        """The joint drawn nearest the pixel (x, y), if within ``PICK_RADIUS_PX``."""
        points = self.scene_joints()
        return None if points is None else nearest_point(self.project(points)[0], x, y, PICK_RADIUS_PX)

    def mousePressEvent(self, ev) -> None:  # noqa: N802 (Qt override)
        pos = ev.position()
        joint = self.joint_at(pos.x(), pos.y()) if ev.button() == Qt.MouseButton.LeftButton else None
        if joint is None:
            super().mousePressEvent(ev)
            return
        self.dragging = joint
        self._drag_depth = float(self.project(self.scene_joints()[joint : joint + 1])[1][0])
        ev.accept()

    def mouseMoveEvent(self, ev) -> None:  # noqa: N802
        if self.dragging is None:
            super().mouseMoveEvent(ev)
            return
        pos = ev.position()
        target = scene_to_camera(self.unproject(pos.x(), pos.y(), self._drag_depth)[None])[0]
        self.edits.drag_joint(self.dragging, target)
        ev.accept()

    def mouseReleaseEvent(self, ev) -> None:  # noqa: N802
        if self.dragging is None:
            super().mouseReleaseEvent(ev)
            if self.pose.image_follows_view:
                self.apply_view_to_hand()
            return
        self.dragging = None
        self.edits.end_drag()
        ev.accept()
