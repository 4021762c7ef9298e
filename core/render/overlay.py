"""Draw 2D skeletons over images and tile images into contact sheets (OpenCV, uint8 RGB)."""
from __future__ import annotations

import cv2
import numpy as np

from core.hand.joints import PARENTS

# One colour per digit (RGB): thumb, index, middle, ring, pinky.
FINGER_COLOURS_RGB = ((255, 80, 80), (255, 200, 40), (60, 220, 80), (40, 170, 255), (200, 90, 255))
WRIST_COLOUR_RGB = (255, 255, 255)


def joint_colour(joint: int) -> tuple[int, int, int]:
    """Colour of joint ``joint`` (0 = wrist) and of the bone that ends at it."""
    return WRIST_COLOUR_RGB if joint == 0 else FINGER_COLOURS_RGB[(joint - 1) // 4]


def draw_skeleton(image: np.ndarray, keypoints_2d: np.ndarray, visible: np.ndarray | None = None,
                  radius: int = 2, thickness: int = 1) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) uint8 RGB with bones and joints (21, 2) px drawn on it.

    Visible joints are filled discs, invisible ones hollow circles.
    """
    out = np.ascontiguousarray(image.copy())
    shift = 4  # sub-pixel drawing: coordinates in 1/16 px
    points = np.round(np.asarray(keypoints_2d, dtype=np.float64) * (1 << shift)).astype(np.int64)
    visible = np.ones(len(points), dtype=bool) if visible is None else np.asarray(visible, dtype=bool)
    for joint in range(1, len(points)):
        parent = PARENTS[joint]
        cv2.line(out, tuple(int(c) for c in points[parent]), tuple(int(c) for c in points[joint]),
                 joint_colour(joint), thickness, cv2.LINE_AA, shift)
    for joint, point in enumerate(points):
        centre = tuple(int(c) for c in point)
        fill = -1 if visible[joint] else 1
        cv2.circle(out, centre, radius << shift, joint_colour(joint), fill, cv2.LINE_AA, shift)
    return out


def contact_sheet(tiles: list[np.ndarray], columns: int = 8, gap: int = 2, background: int = 16) -> np.ndarray:
    """Tile equally sized images (H, W, 3) uint8 into one sheet, row-major."""
    if not tiles:
        raise ValueError("contact_sheet: no images")
    h, w = tiles[0].shape[:2]
    columns = max(1, min(columns, len(tiles)))
    rows = (len(tiles) + columns - 1) // columns
    sheet = np.full((rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, 3), background, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tile
    return sheet


def to_uint8_rgb(image) -> np.ndarray:
    """A (3, H, W) float tensor/array in [0, 1] -> (H, W, 3) uint8."""
    array = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    return (np.clip(array.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)
