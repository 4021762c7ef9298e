"""Shared pieces of the dataset loaders: robust image reading, the bad-sample policy, and the
one function that turns an image plus labels into a cropped ``HandSample``."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterable, TypeVar

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from core.data.crop import CropConfig, CropGeometry, apply_crop, plan_crop, project
from core.data.loaders.errors import DatasetError, SkippedSample
from core.data.sample import APPEARANCE_DIM, HandSample
from core.hand.joints import NUM_JOINTS

logger = logging.getLogger(__name__)
Item = TypeVar("Item")

DEFAULT_CROP = CropConfig()
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"
PNG_START, PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


# ----------------------------------------------------------------------------- files
def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DatasetError(path, f"missing folder ({what})")
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetError(path, f"missing file ({what})")
    return path


def check_image_file(path: Path) -> None:
    """Raise ``DatasetError`` unless ``path`` is a complete JPEG or PNG file.

    Decoders accept a truncated JPEG with only a warning (the bottom of the image is grey), so
    completeness is checked on the bytes: a JPEG must end with the EOI marker (FF D9, trailing
    padding allowed), a PNG with the IEND chunk.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
            handle.seek(max(0, size - 64))
            tail = handle.read()
    except FileNotFoundError:
        raise DatasetError(path, "missing image file") from None
    except OSError as error:
        raise DatasetError(path, f"unreadable image file ({error.strerror})") from None
    if size == 0:
        raise DatasetError(path, "empty image file")
    if head.startswith(JPEG_START):
        if not tail.rstrip(b"\x00\r\n\t ").endswith(JPEG_END):
            raise DatasetError(path, "truncated JPEG (no end-of-image marker FFD9)")
    elif head.startswith(PNG_START):
        if not tail.endswith(PNG_END):
            raise DatasetError(path, "truncated PNG (no IEND chunk)")
    else:
        raise DatasetError(path, "not a JPEG or PNG file")


def read_image_rgb(path: Path) -> np.ndarray:
    """A complete JPEG/PNG as (H, W, 3) uint8 RGB; ``DatasetError`` for anything else."""
    check_image_file(path)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(path, "image could not be decoded")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_image_gray(path: Path) -> np.ndarray:
    """A complete JPEG/PNG as (H, W) (a label map or a coverage mask; the first channel if colour)."""
    check_image_file(path)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError(path, "image could not be decoded")
    return image if image.ndim == 2 else image[..., 0]


def first_readable_size(paths: list[Path], skip_bad: bool) -> tuple[int, int]:
    """(width, height) of the first readable image among ``paths``: a dataset's image size.

    Unreadable ones raise unless ``skip_bad`` (they are recorded when their sample is checked).
    """
    for path in paths:
        try:
            image = read_image_rgb(path)
        except DatasetError:
            if not skip_bad:
                raise
            continue
        return image.shape[1], image.shape[0]
    raise DatasetError(paths[0].parent if paths else Path("."), f"none of the first {len(paths)} images is readable")


def require_array(path: Path, value, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape``, else ``DatasetError`` naming ``name``."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(path, f"'{name}' is not numeric") from None
    if array.shape != shape:
        raise DatasetError(path, f"'{name}' has shape {array.shape}, expected {shape}")
    if not np.isfinite(array).all():
        raise DatasetError(path, f"'{name}' contains nan or inf")
    return array


def require_hand_in_view(path: Path, K: np.ndarray, keypoints_3d: np.ndarray, size_wh: tuple[int, int],
                         visible: np.ndarray | None = None, what: str = "hand") -> None:
    """``DatasetError`` if a keypoint is behind the camera or no (visible) keypoint is in the image."""
    if (keypoints_3d[:, 2] <= 0).any():
        raise DatasetError(path, f"{what}: a keypoint lies behind the camera (z <= 0)")
    inside = points_inside(project(K, keypoints_3d), size_wh)
    if visible is not None:
        inside &= visible
    if not inside.any():
        raise DatasetError(path, f"{what} not visible: no labelled keypoint inside the {size_wh[0]}x{size_wh[1]} image")


def points_inside(uv: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """(N, 2) pixels -> (N,) bool, inside the image area (pixel centres at integers)."""
    return (uv[:, 0] >= -0.5) & (uv[:, 0] <= size_wh[0] - 0.5) & (uv[:, 1] >= -0.5) & (uv[:, 1] <= size_wh[1] - 0.5)


# ----------------------------------------------------------------------------- samples
def nominal_intrinsics(width: int, height: int) -> np.ndarray:
    """A stand-in K for images whose camera is unknown: focal = the longer side (about 53 deg
    across it), principal point at the centre. Samples built with it have ``has_3d`` False."""
    focal = float(max(width, height))
    return np.array([[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def jitter_rng(crop: CropConfig | None) -> np.random.Generator | None:
    """A generator for crop jitter seeded from torch (so DataLoader workers differ), or None."""
    if crop is None or (crop.jitter_scale == 0 and crop.jitter_shift == 0):
        return None
    return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))


def frame_sample(
    index: int,
    image: np.ndarray,
    K: np.ndarray,
    crop: CropConfig | None,
    *,
    keypoints_3d_mm: np.ndarray | None = None,
    keypoints_2d: np.ndarray | None = None,
    visible: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    content: np.ndarray | None = None,
    appearance: np.ndarray | None = None,
    is_left: bool = False,
) -> HandSample:
    """Crop an image around its hand and pack everything into a ``HandSample``.

    image: (H, W, 3) uint8 RGB; K: (3, 3) its intrinsics; crop: framing, None = use as is.
    keypoints_3d_mm: (21, 3) camera frame, internal order (3D label; 2D follows by projection).
    keypoints_2d: (21, 2) pixels, used only without 3D (a 2D-only label).
    visible: (21,) bool label visibility (None: all); joints outside the crop become invisible.
    mask: (H, W) float coverage in [0, 1]; content: (H, W, 3) uint8 content tag image.
    """
    height, width = image.shape[:2]
    has_3d, has_2d = keypoints_3d_mm is not None, keypoints_3d_mm is not None or keypoints_2d is not None
    visible = np.ones(NUM_JOINTS, bool) if visible is None else np.asarray(visible, bool)
    if has_3d:
        source_2d = project(K, keypoints_3d_mm)
        box_points = source_2d
    elif has_2d:
        source_2d = np.asarray(keypoints_2d, dtype=np.float64)
        box_points = source_2d[visible] if visible.any() else source_2d
    else:
        source_2d = np.zeros((NUM_JOINTS, 2))
        box_points = None
    if crop is None or box_points is None:
        geometry = CropGeometry.identity(K, (width, height))
    else:
        geometry = plan_crop(K, box_points, crop, jitter_rng(crop))
    cropped = apply_crop(image, geometry, source_2d, keypoints_3d_mm)
    size_wh = geometry.size_wh
    keypoints_2d_out = cropped.keypoints_2d if has_2d else np.zeros((NUM_JOINTS, 2))
    visible_out = visible & points_inside(keypoints_2d_out, size_wh) if has_2d else np.zeros(NUM_JOINTS, bool)
    blank = torch.zeros(3, size_wh[1], size_wh[0])
    return HandSample(
        image=_chw(cropped.image),
        mask=torch.zeros(1, size_wh[1], size_wh[0]) if mask is None
        else torch.from_numpy(np.clip(geometry.warp(mask.astype(np.float32)), 0, 1))[None],
        keypoints_3d=torch.from_numpy(cropped.keypoints_3d).float() if has_3d else torch.zeros(NUM_JOINTS, 3),
        keypoints_2d=torch.from_numpy(keypoints_2d_out).float(),
        visible=torch.from_numpy(visible_out),
        K=torch.from_numpy(cropped.K).float(),
        crop_rotation=torch.from_numpy(cropped.rotation).float(),
        is_left=torch.tensor(bool(is_left)),
        content=blank if content is None else _chw(geometry.warp(content)),
        appearance=torch.zeros(APPEARANCE_DIM) if appearance is None
        else torch.as_tensor(np.asarray(appearance, np.float32)),
        has_3d=torch.tensor(has_3d),
        has_2d=torch.tensor(has_2d),
        has_content=torch.tensor(content is not None),
        index=torch.tensor(index, dtype=torch.int64),
    )


def _chw(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255.0)


# ----------------------------------------------------------------------------- bad-sample policy
class HandDataset(Dataset):
    """Base of the loaders: the bad-sample policy around a subclass's ``_load(position)``.

    With ``skip_bad=False`` any ``DatasetError`` propagates. With ``skip_bad=True``:
    problems found while indexing (``_keep_valid``) drop the sample from the dataset; problems
    found while loading (e.g. an image that does not decode) make ``__getitem__`` return the
    next good sample instead. Both are appended to ``skipped`` and logged. (With DataLoader
    workers, load-time skips are recorded in the worker's copy of the dataset.)
    """

    def __init__(self, description: str, skip_bad: bool) -> None:
        self.description = description
        self.skip_bad = skip_bad
        self.skipped: list[SkippedSample] = []
        self._failed: set[int] = set()

    def __len__(self) -> int:
        raise NotImplementedError

    def _load(self, position: int) -> HandSample:
        raise NotImplementedError

    def _source_id(self, position: int) -> int:
        """The sample's id in its source files, for ``SkippedSample.index``."""
        return position

    def __getitem__(self, position: int) -> HandSample:
        count = len(self)
        if not -count <= position < count:
            raise IndexError(f"{self.description}: index {position} out of range for {count} samples")
        position %= count
        for attempt in range(count):
            current = (position + attempt) % count
            if current in self._failed:
                continue
            try:
                return self._load(current)
            except DatasetError as error:
                if not self.skip_bad:
                    raise
                self._failed.add(current)
                self.skipped.append(SkippedSample.from_error(self._source_id(current), error))
                logger.warning("%s: skipping a bad sample: %s", self.description, error)
        raise DatasetError(self.description, "no sample could be loaded")

    def _keep_valid(self, candidates: Iterable[Item], check: Callable[[Item], None],
                    source_id: Callable[[Item], int]) -> list[Item]:
        """The candidates that pass ``check``; the others raise or are recorded as skipped."""
        kept = []
        for item in candidates:
            try:
                check(item)
            except DatasetError as error:
                if not self.skip_bad:
                    raise
                self.skipped.append(SkippedSample.from_error(source_id(item), error))
                continue
            kept.append(item)
        if self.skipped:
            first = self.skipped[0]
            logger.warning("%s: skipped %d bad samples while indexing, kept %d (first: %s: %s)",
                           self.description, len(self.skipped), len(kept), first.path, first.problem)
        return kept
