"""Input checks of ``core.api.HandModel``: each refusal is a ``ValueError`` that names the argument
and says what was expected, before any torch or OpenCV call sees the input.

- images: a numpy array (or nested sequence) of RGB pixels, (N, H, W, 3) or (H, W, 3), N >= 1,
  H, W >= 1; uint8 (0..255), other integers within 0..255, or floats in [0, 1] (a float image in
  0..255 is refused, not clamped to an almost white image); no NaN or inf.
- a photo (``check_photo``, what the hand finders take): one such image, (H, W, 3) or (1, H, W, 3);
  a checked photo passes the check again unchanged, so a finder may check what a caller checked.
- latents (N, D) and keypoints (N, 21, 3): real numbers, N >= 1, finite.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# Float pixels may stray this far outside [0, 1] (rounding in a caller's resize) and are clamped.
FLOAT_RANGE_TOLERANCE = 1e-3


def _type_name(value: Any) -> str:
    return type(value).__name__


def as_numeric_array(value: Any, name: str, expected: str) -> np.ndarray:
    """``value`` as a numpy array of real numbers; a path, a string or None is refused with a
    message saying what ``name`` should be (``expected``)."""
    if isinstance(value, (str, bytes, Path)):
        hint = " (a file name? read the image first, e.g. with cv2.imread or app.image_io.load_photo)" \
            if name in ("images", "content", "content_image", "pose_source") else ""
        raise ValueError(f"{name}: expected {expected} as a numpy array, got a {_type_name(value)}{hint}")
    if value is None:
        raise ValueError(f"{name}: expected {expected} as a numpy array, got None")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged sequences
        raise ValueError(f"{name}: expected {expected}, got a {_type_name(value)} "
                         f"that is not one array ({err})") from None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name}: expected {expected} of numbers, got an array of dtype {arr.dtype}")
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name}: {bad} value(s) are NaN or infinite; expected finite numbers")


def check_images(images: Any, name: str = "images") -> np.ndarray:
    """(N, H, W, 3) array of the pixels of ``images`` (see the module docstring): uint8, or float32
    in [0, 1]. Raises ``ValueError`` saying what was expected."""
    expected = "RGB images (N, H, W, 3) or (H, W, 3)"
    arr = as_numeric_array(images, name, expected)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"{name}: expected {expected}, got shape {np.shape(images)}")
    if len(arr) == 0:
        raise ValueError(f"{name}: an empty batch (0 images); expected at least one image (N >= 1)")
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"{name}: images of {arr.shape[2]} x {arr.shape[1]} pixels; expected at least 1 x 1")
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.integer):
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high > 255:
            raise ValueError(f"{name}: integer pixels from {low} to {high}; expected 0..255 (uint8)")
        return arr.astype(np.uint8)
    _check_finite(arr, name)
    low, high = float(arr.min()), float(arr.max())
    if low < -FLOAT_RANGE_TOLERANCE or high > 1.0 + FLOAT_RANGE_TOLERANCE:
        hint = " (0..255 values? pass uint8, or divide by 255)" if high > 1.0 + FLOAT_RANGE_TOLERANCE else ""
        raise ValueError(f"{name}: float pixels from {low:g} to {high:g}; expected RGB in [0, 1]{hint}")
    return np.clip(arr, 0.0, 1.0).astype(np.float32)


def check_photo(image: Any, name: str = "image") -> np.ndarray:
    """The (H, W, 3) pixels of one photo, as ``check_images`` reads them (uint8, or float32 in
    [0, 1]); a batch of more than one image is refused with a ``ValueError``. The one check of a
    photo for ``HandModel.find_hands`` and every finder (``core.finder``)."""
    arr = check_images(image, name)
    if len(arr) != 1:
        raise ValueError(f"{name}: one image (H, W, 3) at a time, got {len(arr)}")
    return arr[0]


def check_batch(values: Any, name: str, expected: str, trailing: tuple[int, ...]) -> np.ndarray:
    """float32 (N, *trailing) array of ``values`` ((*trailing) is read as one row). Refuses wrong
    types and shapes, empty batches and NaN/inf with a ``ValueError`` that names ``expected``."""
    arr = as_numeric_array(values, name, expected)
    if arr.ndim == len(trailing):
        arr = arr[None]
    if arr.ndim != len(trailing) + 1 or arr.shape[1:] != trailing:
        raise ValueError(f"{name}: expected {expected}, got shape {np.shape(values)}")
    if len(arr) == 0:
        raise ValueError(f"{name}: an empty batch (shape {arr.shape}); expected at least one row (N >= 1)")
    _check_finite(arr.astype(np.float64) if arr.dtype == np.float16 else arr, name)
    return np.ascontiguousarray(arr, np.float32)


def check_is_left(is_left: Any, n: int) -> np.ndarray:
    """(n,) bool handedness from one value or n values; ``ValueError`` for any other count."""
    try:
        left = np.asarray(is_left, bool).reshape(-1)
    except (ValueError, TypeError) as err:
        raise ValueError(f"is_left: expected one bool or {n} bools, got {is_left!r} ({err})") from None
    if len(left) not in (1, n):
        raise ValueError(f"is_left: expected one bool or {n} bools (one per pose), got {len(left)}")
    return np.broadcast_to(left, (n,)).copy()
