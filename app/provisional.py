"""PROVISIONAL stand-in for ``core.api.HandModel`` while that is written.

Used only when ``core.api`` cannot be imported; delete this module once it exists. The stand-in model is a fixed random linear map from the pose/viewpoint blocks to joint
angles and a rotation, drawn as a stick figure: enough to drive every widget of the app.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation

from core.hand.joints import BONES, NUM_JOINTS, palm_centre
from core.hand.kinematics import forward_kinematics, mean_hand_shape
from core.hand.ik import fit_angles
from core.hand.limits import ANGLE_LOWER, ANGLE_UPPER
from core.models.config import DVAEConfig

_MID = ((ANGLE_LOWER + ANGLE_UPPER) / 2).numpy().astype(np.float64)
_HALF = ((ANGLE_UPPER - ANGLE_LOWER) / 2).numpy().astype(np.float64)
_HAND_TO_CAMERA = np.diag([1.0, -1.0, -1.0])  # fingers up, palm toward the camera
_VIEW_SCALE = 0.6


@dataclass
class PoseEstimate:
    keypoints_3d: np.ndarray
    keypoints_2d: np.ndarray
    uncertainty: np.ndarray
    is_left: np.ndarray
    latent: np.ndarray


class ProvisionalHandModel:
    """Same calls as ``core.api.HandModel``; numpy in, numpy out."""

    def __init__(self, config: DVAEConfig | None = None, seed: int = 0) -> None:
        self.config = config or DVAEConfig.small()
        self.layout = self.config.layout
        self.image_size = self.config.image_size
        rng = np.random.default_rng(seed)
        self._pose = self.layout.slice("pose")
        self._view = self.layout.slice("viewpoint")
        self._content = self.layout.slice("content")
        n_pose = self._pose.stop - self._pose.start
        self._w_pose = rng.normal(size=(20, n_pose)) / np.sqrt(n_pose)
        self._shape = mean_hand_shape(1)

    @classmethod
    def untrained(cls, config: DVAEConfig | None = None, seed: int = 0) -> "ProvisionalHandModel":
        return cls(config, seed)

    # --- latent -> pose ---------------------------------------------------------------
    def _angles_rotation(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        angles = _MID + _HALF * np.tanh(z[:, self._pose] @ self._w_pose.T)
        rotvec = np.zeros((len(z), 3))
        view = z[:, self._view][:, :3]
        rotvec[:, : view.shape[1]] = view * _VIEW_SCALE
        return angles, Rotation.from_rotvec(rotvec).as_matrix() @ _HAND_TO_CAMERA

    def decode_pose(self, latent: np.ndarray) -> np.ndarray:
        z = np.asarray(latent, dtype=np.float64).reshape(-1, self.layout.dim)
        angles, rot = self._angles_rotation(z)
        joints, _ = forward_kinematics(torch.tensor(angles, dtype=torch.float32), self._shape)
        joints = joints.numpy().astype(np.float64)
        joints = joints - palm_centre(joints)[:, None]
        return np.einsum("nij,nkj->nki", rot, joints)

    def with_pose(self, latent: np.ndarray, keypoints_3d: np.ndarray, is_left: np.ndarray) -> np.ndarray:
        z = np.array(latent, dtype=np.float64).reshape(-1, self.layout.dim)
        for i, kp in enumerate(np.asarray(keypoints_3d, dtype=np.float64).reshape(-1, NUM_JOINTS, 3)):
            canon, _ = forward_kinematics(torch.zeros(1, 20), self._shape)
            canon = canon[0].numpy().astype(np.float64)
            palm = [0, 1, 5, 9, 13, 17]
            rot, _ = Rotation.align_vectors(kp[palm] - kp[palm].mean(0), canon[palm] - canon[palm].mean(0))
            hand = (rot.inv().apply(kp - kp[0]))
            angles = fit_angles(torch.tensor(hand[None]), self._shape).angles[0].numpy()
            u = np.arctanh(np.clip((angles - _MID) / _HALF, -0.995, 0.995))
            z[i, self._pose] = np.linalg.pinv(self._w_pose) @ u
            rv = Rotation.from_matrix(rot.as_matrix() @ _HAND_TO_CAMERA.T).as_rotvec() / _VIEW_SCALE
            n_view = min(3, self._view.stop - self._view.start)
            z[i, self._view.start : self._view.start + n_view] = rv[:n_view]
        return z

    def encode_pose(self, keypoints_3d: np.ndarray, is_left: np.ndarray) -> np.ndarray:
        n = np.asarray(keypoints_3d).reshape(-1, NUM_JOINTS, 3).shape[0]
        return self.with_pose(np.zeros((n, self.layout.dim)), keypoints_3d, is_left)

    # --- images -----------------------------------------------------------------------
    def _project(self, kp: np.ndarray, size: int) -> np.ndarray:
        f = size * 1.2
        depth = kp[:, 2] + 450.0
        return np.stack([f * kp[:, 0] / depth + size / 2, f * kp[:, 1] / depth + size / 2], axis=-1)

    def decode(self, latent: np.ndarray) -> np.ndarray:
        z = np.asarray(latent, dtype=np.float64).reshape(-1, self.layout.dim)
        poses = self.decode_pose(z)
        s = self.image_size
        out = np.empty((len(z), s, s, 3), np.uint8)
        for i in range(len(z)):
            c = 1 / (1 + np.exp(-z[i, self._content][:3]))
            img = np.full((s * 2, s * 2, 3), (c * 200 + 30).astype(np.uint8), np.uint8)
            pts = (self._project(poses[i], s * 2)).astype(np.int32)
            for a, b in BONES:
                cv2.line(img, tuple(pts[a]), tuple(pts[b]), (235, 190, 160), max(2, s // 12), cv2.LINE_AA)
            out[i] = cv2.resize(img, (s, s), interpolation=cv2.INTER_AREA)
        return out

    def encode(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        z = np.zeros((len(images), self.layout.dim))
        for i, img in enumerate(images):
            z[i] = np.random.default_rng(int(img.mean() * 1000)).normal(size=self.layout.dim) * 0.5
        return z

    def estimate(self, images: np.ndarray) -> PoseEstimate:
        images = np.asarray(images)
        z = self.encode(images)
        kp3 = self.decode_pose(z)
        kp2 = np.stack([self._project(k, img.shape[1]) for k, img in zip(kp3, images)])
        unc = np.abs(np.random.default_rng(1).normal(size=(len(z), NUM_JOINTS))) * 10
        return PoseEstimate(kp3, kp2, unc, np.zeros(len(z), bool), z)

    def interpolate(self, a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
        t = np.linspace(0, 1, steps)[:, None]
        return (1 - t) * np.asarray(a)[None] + t * np.asarray(b)[None]

