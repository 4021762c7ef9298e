"""Write every exported file of one pose at once (File > Export pose as... and the CLI).

For a base path ``DIR/NAME``::

    NAME_openpose.json   OpenPose JSON: one person, 21 hand keypoints (x, y, confidence)
    NAME_skeleton.png    ControlNet-style skeleton, RGB on black
    NAME_depth.png       16-bit grey, near = bright, background 0
    NAME_mask.png        8-bit, 255 on the hand
    NAME_image.png       the synthesised image, resized to the canvas (when one is given)

All pictures are ``FramingConfig.size`` pixels square and come from one camera placement.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.export.maps import FramingConfig, HandMaps, PosedHand, render_maps
from core.export.openpose import OpenPoseHand, draw_skeleton, write_openpose_json

# OpenPose confidence written for joints hidden behind the hand (visible joints get 1.0).
OCCLUDED_CONFIDENCE = 0.5
SUFFIXES = ("openpose.json", "skeleton.png", "depth.png", "mask.png", "image.png")


@dataclass
class ExportedPose:
    """What ``export_pose`` wrote: ``files`` by suffix (see ``SUFFIXES``), plus the maps and the
    OpenPose hand they were written from."""

    files: dict[str, Path]
    maps: HandMaps
    openpose: OpenPoseHand


def openpose_hand(maps: HandMaps, is_left: bool, size: int) -> OpenPoseHand:
    """The OpenPose hand of rendered maps: visible joints confidence 1, hidden ones 0.5."""
    confidence = np.where(maps.visible, 1.0, OCCLUDED_CONFIDENCE)
    return OpenPoseHand(maps.keypoints_2d.copy(), confidence, bool(is_left), (size, size))


def _write_png(path: Path, image: np.ndarray) -> None:
    """Write a PNG with OpenCV; RGB (H, W, 3) is swapped to OpenCV's BGR; grey stays as it is."""
    data = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    try:
        ok = cv2.imwrite(str(path), data)
    except cv2.error as err:
        raise OSError(f"cannot write {path}: {err}") from err
    if not ok:
        raise OSError(f"cannot write {path}: check that the folder exists and is writable")


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """An (S, S, 3) uint8 RGB image at ``size`` x ``size`` (cubic when enlarging, area when shrinking)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    if image.shape[:2] == (size, size):
        return image
    grow = size > max(image.shape[:2])
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC if grow else cv2.INTER_AREA)


def export_pose(hand: PosedHand, base: str | Path, framing: FramingConfig = FramingConfig(),
                image: np.ndarray | None = None) -> ExportedPose:
    """Render ``hand`` and write the files listed in the module docstring next to ``base``.

    ``base``: a path without suffix (``out/hand`` writes ``out/hand_openpose.json``...); its
    folder is created. ``image``: the synthesised image (H, W, 3) uint8 RGB, or None to skip it.
    Raises ``OSError`` when a file cannot be written.
    """
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    maps = render_maps(hand, framing)
    openpose = openpose_hand(maps, hand.is_left, framing.size)
    files = {suffix: base.with_name(f"{base.name}_{suffix}") for suffix in SUFFIXES}
    write_openpose_json(files["openpose.json"], openpose)
    _write_png(files["skeleton.png"], draw_skeleton(openpose))
    _write_png(files["depth.png"], maps.depth_png16())
    _write_png(files["mask.png"], maps.mask_png())
    if image is None:
        del files["image.png"]
    else:
        _write_png(files["image.png"], resize_image(image, framing.size))
    return ExportedPose(files, maps, openpose)
