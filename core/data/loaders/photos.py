"""Unlabelled photos (any folder of JPEG/PNG files) for semi-supervised training and demos."""
from __future__ import annotations

from pathlib import Path

import cv2

from core.data.loaders.common import (
    IMAGE_SUFFIXES,
    HandDataset,
    check_image_file,
    frame_sample,
    nominal_intrinsics,
    read_image_rgb,
    require_dir,
)
from core.data.loaders.errors import DatasetError
from core.data.sample import HandSample


def centre_square(image, size: int):
    """The central square of an (H, W, C) image, resized to (size, size, C) (area-averaged when shrinking)."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top:top + side, left:left + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)


class PhotoFolderDataset(HandDataset):
    """Every ``.jpg``/``.jpeg``/``.png`` under ``root`` (recursively, sorted) -> unlabelled ``HandSample``.

    Each photo is reduced to its centre square, resized to ``size`` x ``size``. No labels:
    ``has_3d``, ``has_2d`` and ``has_content`` are False and ``K`` is a nominal camera
    (``nominal_intrinsics``). Bad files raise ``DatasetError`` unless ``skip_bad``.
    """

    def __init__(self, root: str | Path, size: int = 128, skip_bad: bool = False, check_files: bool = True) -> None:
        super().__init__(f"photos at {root}", skip_bad)
        self.root, self.size = Path(root), int(size)
        require_dir(self.root, "photos")
        paths = sorted(p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise DatasetError(self.root, "no .jpg/.jpeg/.png photos found")
        numbered = list(enumerate(paths))
        self._paths = self._keep_valid(numbered, lambda item: check_image_file(item[1]) if check_files else None,
                                       lambda item: item[0])

    def __len__(self) -> int:
        return len(self._paths)

    def _source_id(self, position: int) -> int:
        return self._paths[position][0]

    def path(self, position: int) -> Path:
        return self._paths[position][1]

    def _load(self, position: int) -> HandSample:
        image = centre_square(read_image_rgb(self.path(position)), self.size)
        return frame_sample(position, image, nominal_intrinsics(self.size, self.size), None)
