"""The project's cached synthetic data: FreiHAND layout plus the dVAE's factor labels.

Layout under ``root`` (what the generator writes; read with the FreiHAND code path)::

    training/rgb/%08d.jpg          rendered crops (already the crop size, hand centred by K)
    training/mask/%08d.png         hand coverage 0-255
    training/content/%08d.jpg      content tag: the same background without the hand
    training_K.json                intrinsics, one per image
    training_xyz.json              joints, metres, camera frame, internal (= FreiHAND) order
    training_dvae_labels.npz       is_left (N,) bool, appearance (N, 8) float32, visible (N, 21) bool

Joints of left hands are real left-hand coordinates (not mirrored); ``is_left`` says which.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.crop import CropConfig
from core.data.loaders.common import read_image_rgb, require_file
from core.data.loaders.errors import DatasetError
from core.data.loaders.freihand import FreiHANDDataset
from core.data.sample import APPEARANCE_DIM
from core.hand.joints import NUM_JOINTS

DVAE_LABEL_ARRAYS = {"is_left": (), "appearance": (APPEARANCE_DIM,), "visible": (NUM_JOINTS,)}


def dvae_labels_path(root: str | Path, split: str = "training") -> Path:
    return Path(root) / f"{split}_dvae_labels.npz"


def content_path(root: str | Path, index: int, split: str = "training") -> Path:
    """``<root>/<split>/content/%08d.jpg``: the content tag (background without the hand)."""
    return Path(root) / split / "content" / f"{index:08d}.jpg"


def write_dvae_labels(root: str | Path, is_left: np.ndarray, appearance: np.ndarray, visible: np.ndarray,
                      split: str = "training") -> Path:
    """Write ``<split>_dvae_labels.npz``: is_left (N,) bool, appearance (N, 8), visible (N, 21) bool."""
    arrays = {
        "is_left": np.asarray(is_left, dtype=bool),
        "appearance": np.asarray(appearance, dtype=np.float32),
        "visible": np.asarray(visible, dtype=bool),
    }
    count = len(arrays["is_left"])
    for name, tail in DVAE_LABEL_ARRAYS.items():
        if arrays[name].shape != (count,) + tail:
            raise ValueError(f"{name} must have shape {(count,) + tail}, got {arrays[name].shape}")
    path = dvae_labels_path(root, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


class SyntheticCachedDataset(FreiHANDDataset):
    """Cached synthetic renders -> ``HandSample`` with 3D, 2D, mask, content tag and appearance.

    root: the generator's output folder (layout in the module docstring).
    crop: None (default) uses the renders as they are: they are crops already, with K centring
        the hand; a ``CropConfig`` re-crops them (e.g. with jitter for augmentation).
    """

    def __init__(self, root: str | Path, crop: CropConfig | None = None, skip_bad: bool = False,
                 check_files: bool = True, split: str = "training") -> None:
        self.labels = _read_dvae_labels(dvae_labels_path(root, split))
        super().__init__(root, split, crop=crop, skip_bad=skip_bad, check_files=check_files)
        self.description = f"synthetic cache at {root}"
        if len(self.labels["is_left"]) != self.num_labels:
            raise DatasetError(dvae_labels_path(root, split),
                               f"{len(self.labels['is_left'])} label rows but {self.num_labels} samples in {split}_K.json")

    def _extra_labels(self, image_index: int, label: int) -> dict:
        path = content_path(self.root, image_index, self.split)
        content = read_image_rgb(path) if path.is_file() else None
        return {
            "is_left": bool(self.labels["is_left"][label]),
            "visible": self.labels["visible"][label],
            "content": content,
            "appearance": self.labels["appearance"][label] if content is not None else None,
        }


def _read_dvae_labels(path: Path) -> dict[str, np.ndarray]:
    require_file(path, "dVAE factor labels")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in DVAE_LABEL_ARRAYS if name in data}
    except (OSError, ValueError) as error:
        raise DatasetError(path, f"not a readable .npz file ({error})") from None
    for name, tail in DVAE_LABEL_ARRAYS.items():
        if name not in arrays:
            raise DatasetError(path, f"missing array '{name}'")
        if arrays[name].ndim != 1 + len(tail) or arrays[name].shape[1:] != tail:
            raise DatasetError(path, f"array '{name}' has shape {arrays[name].shape}, expected (N, *{tail})")
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise DatasetError(path, f"arrays differ in length: {lengths}")
    return {
        "is_left": arrays["is_left"].astype(bool),
        "appearance": arrays["appearance"].astype(np.float32),
        "visible": arrays["visible"].astype(bool),
    }
