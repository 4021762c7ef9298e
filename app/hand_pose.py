"""An editable hand skeleton: joint angles + viewpoint + size, and the edits the GUI offers.

The 3D editor never moves keypoints directly: it changes the joint angles of a
forward-kinematics hand, so bone lengths and joint limits hold by construction. Keypoints are
``viewpoint @ mirror_if_left(FK(angles) * size) + root`` (mm, crop-camera frame, OpenCV axes),
the decomposition of ``core.hand.canonical``. Plain numpy/torch, no Qt.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import torch

from core.hand.gestures import GESTURES, gesture_angles
from core.hand.ik import BASE_KEYPOINTS, drag_joint, fit_angles
from core.export.pose_file import load_pose_json, save_pose_json  # noqa: F401 (re-exported)
from core.hand.joints import MIDDLE_MCP, NUM_JOINTS, WRIST
from core.hand.kinematics import MEAN_REFERENCE_MM, HandShape, forward_kinematics, mean_hand_shape

PRESET_NAMES: tuple[str, ...] = tuple(g.value.name for g in GESTURES)


@dataclass(frozen=True)
class HandPose:
    """One hand's skeleton in the camera frame (arrays are never mutated; edits return new poses).

    angles: (20,) rad, layout of ``core.hand.kinematics``.
    viewpoint: (3, 3) hand frame -> camera frame rotation.
    size_mm: wrist -> middle-MCP length.
    root: (3,) mm, wrist position in the camera frame.
    is_left: mirror the right-hand skeleton.
    """

    angles: np.ndarray
    viewpoint: np.ndarray
    size_mm: float
    root: np.ndarray
    is_left: bool

    def shape(self) -> HandShape:
        return mean_hand_shape(1).scaled(torch.tensor([self.size_mm / MEAN_REFERENCE_MM]))

    def hand_frame_joints(self) -> np.ndarray:
        """(21, 3) mm, right-hand frame (before mirroring and the viewpoint)."""
        joints, _ = forward_kinematics(torch.tensor(self.angles)[None], self.shape().to("cpu", torch.float64))
        return joints[0].numpy().astype(np.float64)

    def keypoints(self) -> np.ndarray:
        """(21, 3) mm in the camera frame (a copy)."""
        return self._keypoints.copy()

    @cached_property
    def _keypoints(self) -> np.ndarray:
        joints = self.hand_frame_joints() * _mirror(self.is_left)
        return joints @ self.viewpoint.T + self.root

    def to_hand_frame(self, point: np.ndarray) -> np.ndarray:
        """A camera-frame point (3,) in this hand's (right-hand) frame."""
        return ((np.asarray(point, np.float64) - self.root) @ self.viewpoint) * _mirror(self.is_left)


def _mirror(is_left: bool) -> np.ndarray:
    return np.array([-1.0 if is_left else 1.0, 1.0, 1.0])


def fit_pose(keypoints: np.ndarray, is_left: bool, confidence: np.ndarray | None = None) -> HandPose:
    """The kinematic mean-size hand (angles within limits) nearest to ``keypoints``.

    keypoints: (21, 3) mm, camera frame; confidence: (21,) weights of the fit (default equal).
    The model decodes every pose at the mean hand size, so the editor's hand has that size too.
    """
    kp = torch.tensor(np.asarray(keypoints, np.float64).reshape(1, NUM_JOINTS, 3))
    weights = None if confidence is None else torch.tensor(np.asarray(confidence, np.float64)[None]).clamp_min(0.05)
    fit = fit_angles(kp, mean_hand_shape(1).to("cpu", torch.float64), torch.tensor([bool(is_left)]), weights=weights)
    return HandPose(fit.angles[0].numpy().astype(np.float64), fit.rotation[0].numpy().astype(np.float64),
                    MEAN_REFERENCE_MM, fit.translation[0].numpy().astype(np.float64), bool(is_left))


def drag(pose: HandPose, joint: int, target: np.ndarray) -> HandPose:
    """Move ``joint`` toward ``target`` (3,) mm, camera frame; bone lengths never change.

    A finger joint moves by inverse kinematics within the joint limits. The wrist and the
    knuckles are rigid in the hand, so dragging them turns the whole hand instead: a knuckle
    about the wrist, the wrist about the palm centre.
    """
    target = np.asarray(target, np.float64)
    if joint in BASE_KEYPOINTS:
        kp = pose.keypoints()
        pivot = 0.5 * (kp[WRIST] + kp[MIDDLE_MCP]) if joint == WRIST else kp[WRIST]
        return _turn(pose, kp[joint], target, pivot)
    angles = drag_joint(torch.tensor(pose.angles), pose.shape().to("cpu", torch.float64), joint,
                        torch.tensor(pose.to_hand_frame(target)))
    return replace(pose, angles=angles.numpy().astype(np.float64))


def preset(pose: HandPose, name: str) -> HandPose:
    """The gesture ``name`` (one of ``PRESET_NAMES``) on this hand, same viewpoint."""
    for gesture in GESTURES:
        if gesture.value.name == name:
            angles = gesture_angles(gesture, 1, pose.shape())[0]
            return replace(pose, angles=angles.numpy().astype(np.float64))
    raise KeyError(f"no gesture preset {name!r}; presets are {PRESET_NAMES}")


# Hand frame -> camera frame for the most common photo: palm toward the camera, fingers up
# (hand +y to image up = camera -y, palm normal +z toward the camera = camera -z).
PALM_TO_CAMERA = np.diag([1.0, -1.0, -1.0])


def open_hand_facing_camera() -> HandPose:
    """A right hand in the 'open' gesture, palm toward the camera, fingers up: the first pose shown."""
    pose = HandPose(angles=np.zeros(20), viewpoint=PALM_TO_CAMERA, size_mm=MEAN_REFERENCE_MM,
                    root=np.zeros(3), is_left=False)
    return preset(pose, "open")


def turned(pose: HandPose, rotation: np.ndarray) -> HandPose:
    """The whole hand turned by ``rotation`` (3, 3), camera frame, about its palm centre."""
    kp = pose.keypoints()
    centre = 0.5 * (kp[WRIST] + kp[MIDDLE_MCP])
    rotation = np.asarray(rotation, np.float64)
    return replace(pose, viewpoint=rotation @ pose.viewpoint, root=centre + rotation @ (pose.root - centre))


def _turn(pose: HandPose, point: np.ndarray, target: np.ndarray, centre: np.ndarray) -> HandPose:
    """Rotate the whole hand about ``centre`` so that ``point`` turns toward ``target``."""
    a, b = point - centre, target - centre
    a, b = a / np.linalg.norm(a), b / max(np.linalg.norm(b), 1e-9)
    axis = np.cross(a, b)
    sin, cos = np.linalg.norm(axis), float(np.dot(a, b))
    if sin < 1e-9:
        return pose
    k = axis / sin
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    turn = np.eye(3) + sin * kx + (1 - cos) * kx @ kx
    root = centre + turn @ (pose.root - centre)
    return replace(pose, viewpoint=turn @ pose.viewpoint, root=root)


def mirrored(pose: HandPose, is_left: bool) -> HandPose:
    """The same joint angles and viewpoint on a left (or right) hand."""
    return replace(pose, is_left=bool(is_left))
