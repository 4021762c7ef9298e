"""FreiHAND layout: reader (``FreiHANDDataset``) and writer (``write_freihand_layout``).

Layout under ``root`` (Zimmermann et al., ICCV'19)::

    <split>/rgb/%08d.jpg        images (FreiHAND: 224x224)
    <split>/mask/%08d.{png,jpg} optional hand coverage 0-255, one per *label*
    <split>_K.json              list of N 3x3 intrinsics
    <split>_xyz.json            list of N 21x3 joints, metres, camera frame, FreiHAND order

FreiHAND's training set has more images than labels: each pose was composited over 4
backgrounds, so image ``i`` uses label ``i % N`` (130,240 images for 32,560 labels). The same
rule reads the evaluation split (one image per label) and the project's cached synthetic data.
All hands are right hands unless a subclass says otherwise.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from core.data.crop import CropConfig
from core.data.loaders.common import (
    DEFAULT_CROP,
    HandDataset,
    check_image_file,
    first_readable_size,
    frame_sample,
    read_image_gray,
    read_image_rgb,
    require_array,
    require_dir,
    require_file,
    require_hand_in_view,
)
from core.data.loaders.errors import DatasetError
from core.data.sample import HandSample
from core.hand.joints import NUM_JOINTS, from_freihand

FREIHAND_SPLITS = ("training", "evaluation")
_IMAGE_NAME = re.compile(r"^(\d{8})\.jpg$")


def freihand_image_path(root: str | Path, split: str, index: int) -> Path:
    """``<root>/<split>/rgb/%08d.jpg``: where image ``index`` of a split lives."""
    return Path(root) / split / "rgb" / f"{index:08d}.jpg"


def freihand_mask_path(root: str | Path, split: str, index: int, suffix: str = ".png") -> Path:
    """``<root>/<split>/mask/%08d<suffix>``: the coverage mask of label ``index``."""
    return Path(root) / split / "mask" / f"{index:08d}{suffix}"


def write_freihand_labels(root: str | Path, split: str, K: np.ndarray, xyz_m: np.ndarray) -> None:
    """Write ``<split>_K.json`` (N, 3, 3) and ``<split>_xyz.json`` (N, 21, 3) metres.

    For writers that save images themselves (at ``freihand_image_path``) while generating and
    the labels once at the end. ``xyz_m`` is in the camera frame, internal (= FreiHAND) order.
    """
    K = np.asarray(K, dtype=np.float64)
    xyz_m = np.asarray(xyz_m, dtype=np.float64)
    if K.ndim != 3 or K.shape[1:] != (3, 3):
        raise ValueError(f"K must have shape (N, 3, 3), got {K.shape}")
    if xyz_m.shape != (len(K), NUM_JOINTS, 3):
        raise ValueError(f"xyz_m must have shape ({len(K)}, {NUM_JOINTS}, 3), got {xyz_m.shape}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{split}_K.json").write_text(json.dumps(K.tolist()))
    (root / f"{split}_xyz.json").write_text(json.dumps(xyz_m.tolist()))


def write_freihand_layout(root: str | Path, split: str, images: Sequence[np.ndarray], K: np.ndarray,
                          xyz_m: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write a complete FreiHAND-layout split: images (N of (H, W, 3) uint8 RGB) plus labels."""
    if len(images) != len(K):
        raise ValueError(f"{len(images)} images but {len(K)} intrinsics")
    (Path(root) / split / "rgb").mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        path = freihand_image_path(root, split, index)
        if not cv2.imwrite(str(path), cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]):
            raise OSError(f"could not write {path}")
    write_freihand_labels(root, split, K, xyz_m)


def read_label_list(path: Path, shape: tuple[int, ...], name: str) -> list[np.ndarray | DatasetError]:
    """A json list of arrays; each entry is an array of ``shape`` or the ``DatasetError`` it raised."""
    require_file(path, name)
    try:
        entries = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(path, f"not valid JSON ({error})") from None
    if not isinstance(entries, list):
        raise DatasetError(path, f"expected a JSON list of {name}, got {type(entries).__name__}")
    out: list[np.ndarray | DatasetError] = []
    for i, entry in enumerate(entries):
        try:
            out.append(require_array(path, entry, shape, f"{name} entry {i}"))
        except DatasetError as error:
            out.append(error)
    return out


class FreiHANDDataset(HandDataset):
    """FreiHAND-layout folder -> ``HandSample`` (3D + 2D labels, right hands).

    root: the folder holding ``<split>/rgb`` and ``<split>_{K,xyz}.json``.
    split: "training" or "evaluation" (any name that follows the layout works).
    crop: framing of the hand crop; None uses each image as it is (``K`` unchanged).
    skip_bad: skip (and record in ``skipped``) bad samples instead of raising ``DatasetError``.
    check_files: check at construction that every image exists and is complete (reads the
        last bytes of each file); False defers every file problem to loading time.
    """

    def __init__(self, root: str | Path, split: str = "training", crop: CropConfig | None = DEFAULT_CROP,
                 skip_bad: bool = False, check_files: bool = True) -> None:
        super().__init__(f"FreiHAND-layout {split} at {root}", skip_bad)
        self.root, self.split, self.crop = Path(root), split, crop
        rgb_dir = require_dir(self.root / split / "rgb", f"FreiHAND images of split '{split}'")
        self._K = read_label_list(self.root / f"{split}_K.json", (3, 3), "K")
        self._xyz = read_label_list(self.root / f"{split}_xyz.json", (NUM_JOINTS, 3), "xyz")
        if len(self._K) != len(self._xyz):
            raise DatasetError(self.root / f"{split}_xyz.json",
                               f"{len(self._xyz)} joint sets but {len(self._K)} intrinsics in {split}_K.json")
        if not self._K:
            raise DatasetError(self.root / f"{split}_K.json", "no labels")
        self.num_labels = len(self._K)
        numbers = [int(m.group(1)) for name in _listdir(rgb_dir) if (m := _IMAGE_NAME.match(name))]
        if not numbers:
            raise DatasetError(rgb_dir, "no %08d.jpg images")
        # FreiHAND training: 4 versions (backgrounds) per label; evaluation / synthetic: 1.
        self.versions = -(-(max(numbers) + 1) // self.num_labels)
        self.image_size_wh = first_readable_size(
            [freihand_image_path(self.root, split, n) for n in sorted(numbers)[:16]], skip_bad)
        self._images = self._keep_valid(range(self.num_labels * self.versions),
                                        lambda i: self._check(i, check_files), lambda i: i)

    def __len__(self) -> int:
        return len(self._images)

    def _source_id(self, position: int) -> int:
        return self._images[position]

    def source_intrinsics(self, position: int) -> np.ndarray:
        """(3, 3) intrinsics of the original image behind sample ``position`` (the sample holds the crop's)."""
        return np.asarray(self._K[self.label_index(self._images[position])], dtype=np.float64)

    def label_index(self, image_index: int) -> int:
        """Which label an image number uses: ``image_index % num_labels``."""
        return image_index % self.num_labels

    def _check(self, image_index: int, check_files: bool) -> None:
        label = self.label_index(image_index)
        for entry in (self._K[label], self._xyz[label]):
            if isinstance(entry, DatasetError):
                raise entry
        path = freihand_image_path(self.root, self.split, image_index)
        if check_files:
            check_image_file(path)
        require_hand_in_view(path, self._K[label], 1000.0 * self._xyz[label], self.image_size_wh)

    def _load(self, position: int) -> HandSample:
        image_index = self._images[position]
        label = self.label_index(image_index)
        path = freihand_image_path(self.root, self.split, image_index)
        image = read_image_rgb(path)
        if image.shape[1::-1] != self.image_size_wh:
            raise DatasetError(path, f"image is {image.shape[1]}x{image.shape[0]}, the split's images are "
                                     f"{self.image_size_wh[0]}x{self.image_size_wh[1]}")
        return frame_sample(
            position, image, self._K[label], self.crop,
            keypoints_3d_mm=from_freihand(1000.0 * self._xyz[label]),
            mask=self._read_mask(label, image.shape[:2]),
            **self._extra_labels(image_index, label),
        )

    def _read_mask(self, label: int, shape_hw: tuple[int, int]) -> np.ndarray | None:
        for suffix in (".png", ".jpg"):
            path = freihand_mask_path(self.root, self.split, label, suffix)
            if path.is_file():
                mask = read_image_gray(path)
                if mask.shape != shape_hw:
                    raise DatasetError(path, f"mask is {mask.shape[1]}x{mask.shape[0]}, image is {shape_hw[1]}x{shape_hw[0]}")
                return mask.astype(np.float32) / 255.0
        return None

    def _extra_labels(self, image_index: int, label: int) -> dict:
        """Labels beyond FreiHAND's (``frame_sample`` keyword arguments); subclasses add theirs."""
        return {"is_left": False}


def _listdir(folder: Path) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(folder)]
    except OSError as error:
        raise DatasetError(folder, f"cannot list folder ({error.strerror})") from None


