"""A posed hand framed in a square canvas, and its depth map and mask from the project's renderer.

Framing is that of the training crops (``core.render.camera.place_camera``, as the synthetic
data uses): the camera looks along +z (OpenCV axes: x right, y down) from ``distance_mm`` at
the keypoints' box, moved sideways until the projected box is centred, with a focal length that
makes the box's longer side ``fill`` (75 %) of the canvas. The OpenPose keypoints, the
skeleton image, the depth map and the mask all come from this one placement, so they line up.
"""
from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import numpy as np
import torch

from core.hand.ik import fit_angles
from core.hand.joints import NUM_JOINTS
from core.hand.kinematics import MEAN_REFERENCE_MM, NUM_ANGLES, HandShape, forward_kinematics, mean_hand_shape
from core.render.camera import CameraParams, place_camera, project
from core.render.renderer import HandRenderer, RenderConfig
from core.render.shading import Appearance, skin_tone

UINT16_MAX = 65535


@dataclass(frozen=True)
class FramingConfig:
    """How an exported hand is placed in its canvas and how depth is written.

    size: canvas side, pixels (square canvas).
    distance_mm: camera to keypoint-box centre (perspective strength; the training data spans
        280-800 mm).
    fill: longer side of the keypoints' 2D box / canvas side (the training crops' 3/4).
    far_level: depth-map value of the farthest hand pixel as a share of the 16-bit range; the
        nearest is the full range and the background 0, so the hand never merges with it.
    """

    size: int = 512
    distance_mm: float = 500.0
    fill: float = 0.75
    far_level: float = 0.25

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 4096:
            raise ValueError(f"FramingConfig.size must be 16..4096 pixels, got {self.size}")
        if not 0.1 <= self.fill <= 1.0:
            raise ValueError(f"FramingConfig.fill must be in [0.1, 1], got {self.fill}")
        if self.distance_mm <= 100.0:
            raise ValueError(f"FramingConfig.distance_mm must be > 100 mm, got {self.distance_mm}")
        if not 0.0 < self.far_level < 1.0:
            raise ValueError(f"FramingConfig.far_level must be in (0, 1), got {self.far_level}")


@dataclass(frozen=True)
class PosedHand:
    """One articulated hand: ``keypoints = viewpoint @ mirror_if_left(FK(angles, size))``.

    angles: (20,) rad within the joint limits (layout of ``core.hand.kinematics``).
    viewpoint: (3, 3) rotation, right-hand frame -> camera frame (OpenCV axes).
    size_mm: wrist -> middle-MCP length (the mean hand's size by default).
    is_left: the right hand's mirror image.
    """

    angles: np.ndarray
    viewpoint: np.ndarray
    size_mm: float = MEAN_REFERENCE_MM
    is_left: bool = False

    def shape(self) -> HandShape:
        return mean_hand_shape(1).scaled(torch.tensor([self.size_mm / MEAN_REFERENCE_MM]))

    def keypoints(self) -> np.ndarray:
        """(21, 3) mm in the camera's orientation, wrist at the origin."""
        angles = torch.as_tensor(np.asarray(self.angles, np.float64))[None]
        joints, _ = forward_kinematics(angles, self.shape().to("cpu", torch.float64))
        mirror = np.array([-1.0 if self.is_left else 1.0, 1.0, 1.0])
        return (joints[0].numpy() * mirror) @ np.asarray(self.viewpoint, np.float64).T

    def turned(self, rotation: np.ndarray) -> "PosedHand":
        """The hand seen after turning it by ``rotation`` (3, 3), camera frame."""
        return PosedHand(self.angles, np.asarray(rotation, np.float64) @ self.viewpoint, self.size_mm, self.is_left)

    @classmethod
    def from_keypoints(cls, keypoints: np.ndarray, is_left: bool) -> "PosedHand":
        """The mean-size kinematic hand nearest 21 keypoints (21, 3) mm, by inverse kinematics."""
        kp = np.asarray(keypoints, np.float64)
        if kp.shape != (NUM_JOINTS, 3) or not np.isfinite(kp).all():
            raise ValueError(f"PosedHand.from_keypoints: expected 21 finite (x, y, z) rows, got shape {kp.shape}")
        fit = fit_angles(torch.from_numpy(kp)[None], mean_hand_shape(1).to("cpu", torch.float64),
                         torch.tensor([bool(is_left)]))
        return cls(fit.angles[0].numpy(), fit.rotation[0].numpy(), MEAN_REFERENCE_MM, bool(is_left))


def frame_keypoints(keypoints: torch.Tensor, config: FramingConfig) -> torch.Tensor:
    """Canvas pixels (B, 21, 2) of keypoints (B, 21, 3) mm (camera orientation, any origin).

    Differentiable (the lifting in ``core.export.lift`` optimises through it); pixel centres at
    integer coordinates.
    """
    batch = keypoints.shape[0]
    camera = CameraParams(
        distance_mm=torch.full((batch,), config.distance_mm, dtype=keypoints.dtype, device=keypoints.device),
        fill=torch.full((batch,), config.fill, dtype=keypoints.dtype, device=keypoints.device),
        shift=torch.zeros(batch, 2, dtype=keypoints.dtype, device=keypoints.device),
    )
    translation, K = place_camera(keypoints, camera, config.size)
    return project(keypoints + translation[:, None], K)


@dataclass
class HandMaps:
    """One hand rendered into an S x S canvas.

    keypoints_2d: (21, 2) float px (pixel centres at integers), internal = OpenPose order.
    keypoints_3d: (21, 3) mm, camera frame (camera at the origin).
    visible: (21,) bool, not hidden behind the hand and inside the canvas.
    depth_mm: (S, S) float32 distance along z of the nearest surface, inf off the hand.
    mask: (S, S) bool, hand coverage >= 1/2.
    far_level: see ``FramingConfig``.
    """

    keypoints_2d: np.ndarray
    keypoints_3d: np.ndarray
    visible: np.ndarray
    depth_mm: np.ndarray
    mask: np.ndarray
    far_level: float = FramingConfig.far_level

    def depth_png16(self) -> np.ndarray:
        """(S, S) uint16 for a 16-bit PNG: near = bright (65535 at the nearest hand pixel, linear
        in depth down to ``far_level`` x 65535 at the farthest), background 0."""
        out = np.zeros(self.depth_mm.shape, np.uint16)
        on = self.mask & np.isfinite(self.depth_mm)
        if not on.any():
            return out
        z = self.depth_mm[on].astype(np.float64)
        near, far = z.min(), z.max()
        t = (far - z) / max(far - near, 1e-6)  # 1 at the nearest, 0 at the farthest
        out[on] = np.round(UINT16_MAX * (self.far_level + (1.0 - self.far_level) * t)).astype(np.uint16)
        return out

    def mask_png(self) -> np.ndarray:
        """(S, S) uint8: 255 on the hand, 0 elsewhere."""
        return np.where(self.mask, 255, 0).astype(np.uint8)


@functools.lru_cache(maxsize=4)
def _renderer(size: int, thread: int) -> HandRenderer:
    """One renderer per canvas size and thread (a renderer's scratch buffers are not thread-safe;
    the bake is cached on disk, so construction is quick after the first)."""
    return HandRenderer(RenderConfig(size=size))


def _plain_appearance() -> Appearance:
    """Colour does not matter for depth and mask; a closed wrist (no forearm) is the hand's edge."""
    return Appearance(
        skin_rgb=skin_tone(torch.tensor([0.3])), light_dir=torch.tensor([[0.0, -0.5, -0.866]]),
        ambient=torch.tensor([0.4]), key=torch.tensor([0.8]), sleeve_rgb=torch.zeros(1, 3),
        sleeve_start_mm=torch.tensor([math.inf]), show_forearm=torch.tensor([False]),
        forearm_rotation=torch.eye(3)[None],
    )


def render_maps(hand: PosedHand, config: FramingConfig = FramingConfig()) -> HandMaps:
    """Frame ``hand`` in the canvas and render its depth and mask (see the module docstring)."""
    angles = torch.as_tensor(np.asarray(hand.angles, np.float32)).reshape(1, NUM_ANGLES)
    camera = CameraParams(torch.tensor([config.distance_mm]), torch.tensor([config.fill]), torch.zeros(1, 2))
    viewpoint = torch.as_tensor(np.asarray(hand.viewpoint, np.float32)).reshape(1, 3, 3)
    renderer = _renderer(config.size, threading.get_ident())
    out = renderer.render(angles, hand.shape(), viewpoint, torch.tensor([bool(hand.is_left)]), _plain_appearance(),
                          camera)
    return HandMaps(
        keypoints_2d=out.keypoints_2d[0].numpy().astype(np.float64),
        keypoints_3d=out.keypoints_3d[0].numpy().astype(np.float64),
        visible=out.visible[0].numpy().astype(bool),
        depth_mm=out.depth[0, 0].numpy(),
        mask=out.coverage[0, 0].numpy() >= 0.5,
        far_level=config.far_level,
    )
