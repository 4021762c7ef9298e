"""Contact sheets of the hand finder's measure (``train.hand_finder.eval``), to judge by eye.

- ``contact_sheet``: every labelled photo with its labelled and found boxes;
- ``first_box_sheet``: every photo with only its first box (what the app frames on opening);
- ``missed_sheet``: a close-up of every labelled hand no box found, with the boxes near it.

Each returns one (rows * tile, columns * tile, 3) uint8 RGB image.
"""
from __future__ import annotations

import cv2
import numpy as np

from core.finder.boxes import Detection, box_iou
from core.finder.combined import Finds
from train.hand_finder.match import Photo, match
from train.sheets import captioned_grid, fit_in_tile

NEAR_IOU = 0.1  # a box overlapping a missed hand's by more is drawn on its close-up


def _draw_box(img: np.ndarray, box: tuple[float, ...], f: float, colour: tuple[int, int, int], width: int,
              label: str = "") -> None:
    """A box (x0, y0, x1, y1) in photo pixels drawn at scale ``f``, with ``label`` above it."""
    p0 = (int(round((box[0] + 0.5) * f - 0.5)), int(round((box[1] + 0.5) * f - 0.5)))
    p1 = (int(round((box[2] + 0.5) * f - 0.5)), int(round((box[3] + 0.5) * f - 0.5)))
    cv2.rectangle(img, p0, p1, colour, width, cv2.LINE_AA)
    if label:
        cv2.putText(img, label, (max(p0[0], 0), max(p0[1] - 3, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1,
                    cv2.LINE_AA)


def contact_sheet(photos: list[Photo], detections: list[list[Detection]], tile: int = 256, columns: int = 6) -> np.ndarray:
    """Each photo in a tile: labelled boxes thin white, found boxes orange (right) / cyan (left)
    with their score ("MP": found by MediaPipe); the caption says how many hands were found. (rows * tile, columns * tile, 3) uint8."""
    tiles, captions = [], []
    for photo, found in zip(photos, detections):
        img, f = fit_in_tile(photo.image, tile)
        for hand in photo.hands:
            _draw_box(img, hand.box, f, (255, 255, 255), 1)
        for det in found:
            _draw_box(img, det.box, f, (0, 220, 255) if det.is_left else (255, 140, 0), 2,
                      f"{'MP ' if det.by_mediapipe else ''}{det.hand[0].upper()} {det.score:.2f}")
        tiles.append(img)
        captions.append(f"{photo.dataset} {photo.name[:18]}: {sum(match(found, photo.hands).found)}/{len(photo.hands)}")
    return captioned_grid(tiles, captions, columns)


def first_box_sheet(finder: Finds, photos: list[Photo], tile: int = 240, columns: int = 9) -> np.ndarray:
    """Each photo in a tile with only its first box (what the app frames on opening), yellow,
    marked "MP" (MediaPipe) or "F" (the project's finder); numbered captions. (rows * tile, columns * tile, 3) uint8."""
    tiles, captions = [], []
    for number, photo in enumerate(photos):
        img, f = fit_in_tile(photo.image, tile)
        found = finder.find(photo.image)
        if found:
            _draw_box(img, found[0].box, f, (255, 255, 0), 2, "MP" if found[0].by_mediapipe else "F")
        tiles.append(img)
        captions.append(f"{number} {photo.dataset} {photo.name[:14]}")
    return captioned_grid(tiles, captions, columns)




def missed_sheet(photos: list[Photo], detections: list[list[Detection]], tile: int = 160,
                 columns: int = 10) -> np.ndarray:
    """A close-up (``tile`` px, 2.2 x the hand's box side, at least 53 px of the photo) of every
    labelled hand the detections miss: its labelled box white, its keypoints green, the boxes
    overlapping it orange; captioned with the photo's number, the box side (px), the best IoU
    of any box with it, and "cut" for a hand cut by the border. Whether a person could find the
    hand at all is for the eye to say (some composite hands are hidden or camouflaged)."""
    tiles, captions = [], []
    for number, (photo, found) in enumerate(zip(photos, detections)):
        result = match(found, photo.hands)
        for hand, ok in zip(photo.hands, result.found):
            if ok:
                continue
            box = hand.box
            side = box[2] - box[0]
            half = 1.1 * max(side, 24.0)
            cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
            f = tile / (2 * half)
            # the close-up's pixel (u, v) shows the photo at (cx - half + u / f, cy - half + v / f)
            warp = np.array([[f, 0, f * (half - cx)], [0, f, f * (half - cy)]])
            img = cv2.warpAffine(photo.image, warp, (tile, tile), flags=cv2.INTER_LINEAR if f < 1 else cv2.INTER_NEAREST)

            def shifted(b: tuple[float, ...]) -> tuple[float, ...]:
                return (b[0] - cx + half, b[1] - cy + half, b[2] - cx + half, b[3] - cy + half)

            _draw_box(img, shifted(box), f, (255, 255, 255), 1)
            for det in found:
                if box_iou(det.box, box) > NEAR_IOU:
                    _draw_box(img, shifted(det.box), f, (255, 140, 0), 1)
            for x, y in hand.keypoints:
                cv2.circle(img, (int(round((x - cx + half) * f)), int(round((y - cy + half) * f))), 1, (0, 255, 0), -1)
            best = max((box_iou(d.box, box) for d in found), default=0.0)
            tiles.append(img)
            captions.append(f"{number}: {side:.0f}px IoU {best:.2f}{' cut' if hand.cut else ''}")
    return captioned_grid(tiles, captions, columns) if tiles else np.zeros((16, tile, 3), np.uint8)
