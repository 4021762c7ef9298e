"""RHD, the Rendered Hand Pose Dataset (Zimmermann & Brox, ICCV'17), in its native layout.

Layout under ``root`` (``RHD_published_v2``)::

    <split>/color/%05d.png           320x320 renders
    <split>/mask/%05d.png            label map: 0 background, 1 person, 2-17 left hand, 18-33 right
    <split>/anno_<split>.pickle      {id: {"xyz": (42, 3) m, "uv_vis": (42, 3), "K": (3, 3)}}

Joints 0-20 are the left hand, 21-41 the right, each in RHD order (wrist, then each finger
tip -> MCP). One sample = one hand: by default the one with more mask pixels (hand3d's rule).
"""
from __future__ import annotations

import pickle
from pathlib import Path

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
from core.hand.joints import from_rhd

RHD_SPLITS = ("training", "evaluation")
HANDS = ("auto", "left", "right")
LEFT_MASK_IDS = (2, 17)    # inclusive range of the left hand's part ids
RIGHT_MASK_IDS = (18, 33)
_ANNOTATION_SHAPES = {"xyz": (42, 3), "uv_vis": (42, 3), "K": (3, 3)}

# The pickle holds numpy arrays only; refuse anything else instead of running arbitrary code.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays are expected)")
        return super().find_class(module, name)


def load_rhd_annotations(path: Path) -> dict:
    """The annotation pickle as a dict (Python 2 pickles included); ``DatasetError`` if unreadable."""
    require_file(path, "RHD annotations")
    try:
        with open(path, "rb") as handle:
            annotations = _NumpyOnlyUnpickler(handle, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise DatasetError(path, f"unreadable annotation pickle ({error})") from None
    if not isinstance(annotations, dict):
        raise DatasetError(path, f"expected a dict keyed by sample id, got {type(annotations).__name__}")
    return annotations


class RHDDataset(HandDataset):
    """RHD -> ``HandSample`` (3D + 2D + visibility + hand mask), one hand per image.

    root: the ``RHD_published_v2`` folder (holding ``training/`` and ``evaluation/``).
    split: "training" or "evaluation".
    crop: framing of the hand crop; None keeps the whole 320x320 image.
    hand: "auto" (the hand with more mask pixels), "left" or "right".
    skip_bad: skip (and record in ``skipped``) bad samples instead of raising ``DatasetError``.
    check_files: check at construction that every image and mask exists and is complete.
    """

    def __init__(self, root: str | Path, split: str = "training", crop: CropConfig | None = DEFAULT_CROP,
                 hand: str = "auto", skip_bad: bool = False, check_files: bool = True) -> None:
        if split not in RHD_SPLITS:
            raise ValueError(f"split must be one of {RHD_SPLITS}, got {split!r}")
        if hand not in HANDS:
            raise ValueError(f"hand must be one of {HANDS}, got {hand!r}")
        super().__init__(f"RHD {split} at {root}", skip_bad)
        self.root, self.split, self.crop, self.hand = Path(root), split, crop, hand
        self.split_dir = require_dir(self.root / split, f"RHD split '{split}'")
        self.annotation_path = self.split_dir / f"anno_{split}.pickle"
        raw = load_rhd_annotations(self.annotation_path)
        integer_ids = sorted(int(key) for key in raw if isinstance(key, (int, np.integer)))
        ids = integer_ids + [key for key in raw if not isinstance(key, (int, np.integer))]
        raw = {int(key) if isinstance(key, (int, np.integer)) else key: value for key, value in raw.items()}
        self._annotations: dict = {}
        self.image_size_wh = first_readable_size([self._color_path(i) for i in integer_ids[:16]], skip_bad)
        self._ids = self._keep_valid(ids, lambda i: self._check(i, raw.get(i), check_files), self._id_number)

    def __len__(self) -> int:
        return len(self._ids)

    def _source_id(self, position: int) -> int:
        return self._id_number(self._ids[position])

    @staticmethod
    def _id_number(sample_id) -> int:
        return sample_id if isinstance(sample_id, int) else -1

    def _color_path(self, sample_id) -> Path:
        return self.split_dir / "color" / f"{sample_id:05d}.png"

    def _mask_path(self, sample_id) -> Path:
        return self.split_dir / "mask" / f"{sample_id:05d}.png"

    def _check(self, sample_id, entry, check_files: bool) -> None:
        where = f"sample {sample_id!r}"
        if not isinstance(sample_id, int) or sample_id < 0:
            raise DatasetError(self.annotation_path, f"{where}: sample ids must be non-negative integers")
        if not isinstance(entry, dict):
            raise DatasetError(self.annotation_path, f"{where}: expected a dict with keys {sorted(_ANNOTATION_SHAPES)}")
        arrays = {}
        for key, shape in _ANNOTATION_SHAPES.items():
            if key not in entry:
                raise DatasetError(self.annotation_path, f"{where}: missing key '{key}'")
            arrays[key] = require_array(self.annotation_path, entry[key], shape, f"{where} {key}")
        if check_files:
            check_image_file(self._color_path(sample_id))
            check_image_file(self._mask_path(sample_id))
        sides = {"left": slice(0, 21), "right": slice(21, 42)}
        candidates = sides if self.hand == "auto" else {self.hand: sides[self.hand]}
        problems = []
        for side, rows in candidates.items():
            try:
                require_hand_in_view(self._color_path(sample_id), arrays["K"], 1000.0 * arrays["xyz"][rows],
                                     self.image_size_wh, arrays["uv_vis"][rows, 2] > 0.5, what=f"{side} hand")
                break
            except DatasetError as error:
                problems.append(error.problem)
        else:
            raise DatasetError(self._color_path(sample_id), "; ".join(problems))
        self._annotations[sample_id] = arrays

    def source_intrinsics(self, position: int) -> np.ndarray:
        """(3, 3) intrinsics of the original image behind sample ``position`` (the sample holds the crop's)."""
        return np.asarray(self._annotations[self._ids[position]]["K"], dtype=np.float64)

    def _load(self, position: int) -> HandSample:
        sample_id = self._ids[position]
        arrays = self._annotations[sample_id]
        image = read_image_rgb(self._color_path(sample_id))
        labels = read_image_gray(self._mask_path(sample_id))
        if labels.shape != image.shape[:2]:
            raise DatasetError(self._mask_path(sample_id), f"mask shape {labels.shape} differs from the image's {image.shape[:2]}")
        left = (labels >= LEFT_MASK_IDS[0]) & (labels <= LEFT_MASK_IDS[1])
        right = (labels >= RIGHT_MASK_IDS[0]) & (labels <= RIGHT_MASK_IDS[1])
        is_left = self.hand == "left" or (self.hand == "auto" and left.sum() > right.sum())
        coverage = left if is_left else right
        if not coverage.any():
            raise DatasetError(self._mask_path(sample_id),
                               f"hand not visible: the {'left' if is_left else 'right'} hand has no mask pixels")
        rows = slice(0, 21) if is_left else slice(21, 42)
        return frame_sample(
            position, image, arrays["K"], self.crop,
            keypoints_3d_mm=from_rhd(1000.0 * arrays["xyz"][rows]),
            visible=from_rhd((arrays["uv_vis"][rows, 2:3] > 0.5))[:, 0],
            mask=coverage.astype(np.float32),
            is_left=is_left,
        )
