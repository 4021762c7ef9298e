"""Perspective-correct, hand-centred square crops.

A crop is taken with a *virtual camera*: the same optical centre as the original camera, turned
to look through the centre of the hand's keypoint box, with a focal length chosen so the box
fills ``1 / margin`` of the crop side (75 % by default, like real hand crops). Pixels move by
the homography ``H = K' R K^-1``; 3D points by ``X' = R X`` and their 2D labels are the
projection ``K' X'``. Cropping off the optical axis this way keeps the 3D targets unskewed
(a plain crop off the axis would skew them), and predictions go back with ``R^T``.

Conventions: pixel centres at integer coordinates (OpenCV's), so the crop's principal point is
``((size - 1) / 2, (size - 1) / 2)``; ``R`` takes original-camera coordinates to crop-camera
coordinates (``core.data.sample.HandSample.crop_rotation``). Points are rows: ``(N, 3)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CropConfig:
    """How crops are framed around the keypoints' bounding box.

    size: side of the square crop in pixels.
    margin: crop side / keypoint box side (the longer side of the box, measured in the crop
        camera); 4/3 makes the box fill 75 % of the crop.
    jitter_scale: augmentation, the crop side is multiplied by U(1 - j, 1 + j).
    jitter_shift: augmentation, the crop centre moves by U(-j, j) box sides along x and y.
    min_box_px: the box side never counts as smaller than this (original pixels), so a hand
        with a single labelled keypoint still gets a finite crop.
    """

    size: int = 128
    margin: float = 4.0 / 3.0
    jitter_scale: float = 0.0
    jitter_shift: float = 0.0
    min_box_px: float = 8.0

    def __post_init__(self) -> None:
        if self.size < 2:
            raise ValueError(f"CropConfig.size must be >= 2, got {self.size}")
        if self.margin <= 0:
            raise ValueError(f"CropConfig.margin must be > 0, got {self.margin}")
        if not 0 <= self.jitter_scale < 1:
            raise ValueError(f"CropConfig.jitter_scale must be in [0, 1), got {self.jitter_scale}")


@dataclass
class CropGeometry:
    """The virtual crop camera: maps original pixels / 3D points into the crop.

    source_K: (3, 3) intrinsics of the original image.
    K: (3, 3) intrinsics of the crop camera.
    rotation: (3, 3) original camera -> crop camera (``X_crop = rotation @ X``).
    size_wh: (width, height) of the crop image.
    """

    source_K: np.ndarray
    K: np.ndarray
    rotation: np.ndarray
    size_wh: tuple[int, int]

    @classmethod
    def identity(cls, K: np.ndarray, size_wh: tuple[int, int]) -> "CropGeometry":
        """No crop: the image is used as it is (``K`` unchanged, ``rotation`` identity)."""
        K = np.asarray(K, dtype=np.float64)
        return cls(K.copy(), K.copy(), np.eye(3), (int(size_wh[0]), int(size_wh[1])))

    @property
    def homography(self) -> np.ndarray:
        """(3, 3) original pixel -> crop pixel, ``K' R K^-1``."""
        return self.K @ self.rotation @ np.linalg.inv(self.source_K)

    @property
    def is_identity(self) -> bool:
        return bool(np.allclose(self.homography, np.eye(3), atol=1e-9))

    def points_3d(self, points: np.ndarray) -> np.ndarray:
        """Original-camera points (..., 3) -> crop-camera points (..., 3)."""
        return np.asarray(points, dtype=np.float64) @ self.rotation.T

    def points_to_source(self, points: np.ndarray) -> np.ndarray:
        """Crop-camera points (..., 3) -> original-camera points (..., 3), e.g. for predictions."""
        return np.asarray(points, dtype=np.float64) @ self.rotation

    def project_3d(self, points: np.ndarray) -> np.ndarray:
        """Original-camera points (..., 3) -> crop pixels (..., 2)."""
        return project(self.K, self.points_3d(points))

    def map_2d(self, uv: np.ndarray) -> np.ndarray:
        """Original pixels (..., 2) -> crop pixels (..., 2), through the homography."""
        return apply_homography(self.homography, uv)

    def unmap_2d(self, uv: np.ndarray) -> np.ndarray:
        """Crop pixels (..., 2) -> original pixels (..., 2)."""
        return apply_homography(np.linalg.inv(self.homography), uv)

    def warp(self, image: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """Resample an original-camera image (H, W[, C]) into the crop (size_h, size_w[, C]).

        When the crop shrinks the image by more than 2x, the source is first reduced with
        Gaussian pyramid steps (``cv2.pyrDown``) so thin structures do not alias.
        Outside the source the crop is black (zeros).
        """
        if self.is_identity and image.shape[1::-1] == tuple(self.size_wh):
            return image.copy()
        homography = self.homography
        source = image
        if interpolation != cv2.INTER_NEAREST:
            while self.zoom(homography) < 0.5 and min(source.shape[:2]) >= 4:
                source = cv2.pyrDown(source)
                homography = homography @ np.diag([2.0, 2.0, 1.0])  # new pixel q is old pixel 2q
        warped = cv2.warpPerspective(source, homography, tuple(self.size_wh), flags=interpolation,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return warped.reshape(warped.shape[:2] + image.shape[2:])

    def zoom(self, homography: np.ndarray | None = None) -> float:
        """Local magnification (crop pixels per source pixel) at the crop centre."""
        homography = self.homography if homography is None else homography
        centre = np.array([(self.size_wh[0] - 1) / 2.0, (self.size_wh[1] - 1) / 2.0])
        inverse = np.linalg.inv(homography)
        step = apply_homography(inverse, np.stack([centre, centre + [1.0, 0.0], centre + [0.0, 1.0]]))
        source_area = abs(np.linalg.det(np.stack([step[1] - step[0], step[2] - step[0]])))
        return float(1.0 / np.sqrt(max(source_area, 1e-12)))


@dataclass
class HandCrop:
    """A cropped hand: the image and its labels in the crop camera.

    image: (S, S[, C]) same dtype as the source.
    K: (3, 3) crop intrinsics; rotation: (3, 3) original -> crop camera.
    keypoints_2d: (J, 2) crop pixels (the projection of ``keypoints_3d`` when that is given).
    keypoints_3d: (J, 3) crop-camera coordinates, or None for 2D-only labels.
    geometry: the crop camera, to warp further images (masks, content) or map predictions back.
    """

    image: np.ndarray
    K: np.ndarray
    rotation: np.ndarray
    keypoints_2d: np.ndarray
    keypoints_3d: np.ndarray | None
    geometry: CropGeometry


def project(K: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points (..., 3) -> pixels (..., 2)."""
    uvw = np.asarray(points, dtype=np.float64) @ np.asarray(K, dtype=np.float64).T
    return uvw[..., :2] / uvw[..., 2:3]


def apply_homography(homography: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Map pixels (..., 2) by a 3x3 homography."""
    uv = np.asarray(uv, dtype=np.float64)
    mapped = np.concatenate([uv, np.ones(uv.shape[:-1] + (1,))], axis=-1) @ np.asarray(homography).T
    return mapped[..., :2] / mapped[..., 2:3]


def look_at_rotation(ray: np.ndarray) -> np.ndarray:
    """The smallest rotation R (3, 3) that turns the direction ``ray`` onto the optical axis +z.

    Rows of R are the crop camera's axes in original-camera coordinates; the turn has no roll
    beyond what is needed (the axis is perpendicular to both the ray and +z).
    """
    ray = np.asarray(ray, dtype=np.float64)
    ray = ray / np.linalg.norm(ray)
    axis = np.cross(ray, [0.0, 0.0, 1.0])
    sin_angle = np.linalg.norm(axis)
    angle = np.arctan2(sin_angle, ray[2])
    if sin_angle < 1e-12:
        return np.eye(3)
    return cv2.Rodrigues(axis / sin_angle * angle)[0]


def plan_crop(
    K: np.ndarray,
    box_points_2d: np.ndarray,
    config: CropConfig,
    rng: np.random.Generator | None = None,
) -> CropGeometry:
    """The crop camera for a hand whose keypoints (N, 2) lie at ``box_points_2d`` (original px).

    The camera turns to look through the centre of the keypoints' box as the turned camera sees
    it (then moves by the shift jitter), so the box is centred in the crop; its focal length
    makes the box side, measured in the turned camera, ``1 / margin`` of the crop side (times
    the scale jitter). ``rng`` draws the jitter (None: no jitter).
    """
    K = np.asarray(K, dtype=np.float64)
    points = np.asarray(box_points_2d, dtype=np.float64).reshape(-1, 2)
    if len(points) == 0 or not np.isfinite(points).all():
        raise ValueError("plan_crop needs at least one finite keypoint for the box")
    centre = 0.5 * (points.min(axis=0) + points.max(axis=0))
    K_inv = np.linalg.inv(K)
    ray = K_inv @ np.array([centre[0], centre[1], 1.0])
    # Perspective makes the box asymmetric once the camera turns: re-aim at the centre of the
    # box as the turned camera sees it (converges in a few steps), so the box ends up centred
    # in the crop and cropping a crop again is the identity.
    for _ in range(4):
        rotation = look_at_rotation(ray)
        normalised = _normalised_in(rotation, K_inv, points)
        low_n, high_n = normalised.min(axis=0), normalised.max(axis=0)
        ray = rotation.T @ np.append(0.5 * (low_n + high_n), 1.0)
    rotation = look_at_rotation(ray)
    normalised = _normalised_in(rotation, K_inv, points)
    mean_focal = 0.5 * (K[0, 0] + K[1, 1])
    side_normalised = max(float((normalised.max(axis=0) - normalised.min(axis=0)).max()), config.min_box_px / mean_focal)
    scale = 1.0
    if rng is not None:
        shift = rng.uniform(-config.jitter_shift, config.jitter_shift, size=2) * side_normalised
        scale = rng.uniform(1.0 - config.jitter_scale, 1.0 + config.jitter_scale)
        rotation = look_at_rotation(rotation.T @ np.append(shift, 1.0))
    focal = config.size / (side_normalised * config.margin * scale)
    principal = (config.size - 1) / 2.0
    crop_K = np.array([[focal, 0.0, principal], [0.0, focal, principal], [0.0, 0.0, 1.0]])
    return CropGeometry(K.copy(), crop_K, rotation, (config.size, config.size))


def _normalised_in(rotation: np.ndarray, K_inv: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Original pixels (N, 2) -> normalised image coordinates (N, 2) of the turned camera."""
    rays = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ (rotation @ K_inv).T
    if (rays[:, 2] <= 0).any():
        raise ValueError("plan_crop: a keypoint lies 90 degrees or more from the crop centre")
    return rays[:, :2] / rays[:, 2:3]


def crop_hand(
    image: np.ndarray,
    K: np.ndarray,
    keypoints_2d: np.ndarray,
    config: CropConfig | None = None,
    keypoints_3d: np.ndarray | None = None,
    box_mask: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> HandCrop:
    """Crop one hand (perspective-correct) and move its labels into the crop camera.

    image: (H, W[, C]) any dtype OpenCV warps (uint8, float32).
    K: (3, 3) intrinsics of ``image``.
    keypoints_2d: (J, 2) original pixels; they frame the box (rows where ``box_mask`` is True).
    config: framing; None = ``CropConfig()``.
    keypoints_3d: (J, 3) original-camera coordinates (any unit) or None (2D-only labels: the
        2D keypoints then move through the homography).
    """
    config = CropConfig() if config is None else config
    keypoints_2d = np.asarray(keypoints_2d, dtype=np.float64)
    box_points = keypoints_2d if box_mask is None else keypoints_2d[np.asarray(box_mask, dtype=bool)]
    geometry = plan_crop(K, box_points, config, rng)
    return apply_crop(image, geometry, keypoints_2d, keypoints_3d)


def apply_crop(
    image: np.ndarray,
    geometry: CropGeometry,
    keypoints_2d: np.ndarray,
    keypoints_3d: np.ndarray | None = None,
) -> HandCrop:
    """Warp ``image`` and move labels with an already planned (or identity) crop camera."""
    if keypoints_3d is not None:
        crop_3d = geometry.points_3d(keypoints_3d)
        crop_2d = project(geometry.K, crop_3d)
    else:
        crop_3d = None
        crop_2d = geometry.map_2d(keypoints_2d)
    return HandCrop(geometry.warp(image), geometry.K.copy(), geometry.rotation.copy(), crop_2d, crop_3d, geometry)


def crop_square(image: np.ndarray, crop: tuple[float, float, float], size: int) -> np.ndarray:
    """The square ``crop`` = (x, y, side) px of ``image`` (H, W, 3) resized to (size, size, 3), as the
    app cuts a photo for the estimate; outside the photo is black."""
    x, y, side = crop
    scale = size / side
    warp = np.array([[scale, 0.0, -x * scale], [0.0, scale, -y * scale]])
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(image, warp, (size, size), flags=interp, borderMode=cv2.BORDER_CONSTANT)
