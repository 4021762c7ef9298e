"""Contact sheets: model images as picture tiles and tiles arranged in labelled grids, for every
figure the tools write (the trainer's sample grid ``train.loop.sample_grid``, the experiments'
figures, the decoder ablation's and pose sheets, the hand finder's photo sheets).
Every sheet is an (H, W, 3) uint8 BGR array, ready for ``cv2.imwrite``."""
from __future__ import annotations

import cv2
import numpy as np
import torch


def to_tiles(images: torch.Tensor, tile: int, interpolation: int = cv2.INTER_LINEAR) -> list[np.ndarray]:
    """(B, 3, H, W) RGB in [0, 1] -> B uint8 BGR tiles of ``tile`` x ``tile`` pixels, resized with
    OpenCV's ``interpolation``."""
    array = (images.detach().float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return [cv2.resize(np.ascontiguousarray(im[:, :, ::-1]), (tile, tile), interpolation=interpolation)
            for im in array]


LABELLED_ROWS_WIDTH = 130  # px of row labels on a white sheet
DARK_ROWS_WIDTH = 150  # px of row labels on the trainer's dark sample grid


def labelled_rows(rows: list[tuple[str, list[np.ndarray]]], tile: int, header: list[str] | None = None) -> np.ndarray:
    """Rows of equally sized tiles with a text label on the left (and optional column headers)."""
    columns = max(len(tiles) for _, tiles in rows)
    top = 22 if header else 0
    canvas = np.full((top + len(rows) * (tile + 4), LABELLED_ROWS_WIDTH + columns * (tile + 4), 3), 255, np.uint8)
    for c, text in enumerate(header or []):
        cv2.putText(canvas, text, (LABELLED_ROWS_WIDTH + c * (tile + 4) + 2, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    for r, (label, tiles) in enumerate(rows):
        y = top + r * (tile + 4)
        for i, line in enumerate(label.split("\n")):
            cv2.putText(canvas, line, (4, y + tile // 2 + 14 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1,
                        cv2.LINE_AA)
        for c, image in enumerate(tiles):
            x = LABELLED_ROWS_WIDTH + c * (tile + 4)
            canvas[y: y + tile, x: x + tile] = image
    return canvas


def dark_labelled_rows(rows: list[list[np.ndarray]], names: tuple[str, ...], tile: int) -> np.ndarray:
    """Stack rows of tiles with a name on the left of each row. -> (H, W, 3) uint8 BGR."""
    columns = max(len(r) for r in rows)
    blank = np.zeros((tile, tile, 3), np.uint8)
    lines = []
    for name, row in zip(names, rows):
        label = np.full((tile, DARK_ROWS_WIDTH, 3), 32, np.uint8)
        cv2.putText(label, name, (6, tile // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (235, 235, 235), 1, cv2.LINE_AA)
        lines.append(np.hstack([label] + row + [blank] * (columns - len(row))))
    return np.vstack(lines)


def captioned_grid(tiles: list[np.ndarray], captions: list[str], columns: int) -> np.ndarray:
    """Tiles (each (t, t, 3)) with a caption bar at the bottom, ``columns`` per row."""
    tile = tiles[0].shape[0] if tiles else 1
    for img, caption in zip(tiles, captions):
        cv2.rectangle(img, (0, tile - 16), (tile, tile), (0, 0, 0), -1)
        cv2.putText(img, caption, (3, tile - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
    tiles = tiles + [np.zeros((tile, tile, 3), np.uint8)] * (-len(tiles) % columns)
    return np.concatenate([np.concatenate(tiles[i:i + columns], 1) for i in range(0, len(tiles), columns)], 0)


def fit_in_tile(image: np.ndarray, tile: int) -> tuple[np.ndarray, float]:
    """The image shrunk into the top-left of a black (tile, tile, 3) square, and its scale."""
    h, w = image.shape[:2]
    f = tile / max(h, w)
    img = np.zeros((tile, tile, 3), np.uint8)
    img[: round(h * f), : round(w * f)] = cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    return img, f


def pose_sheet(renders: torch.Tensor, syntheses: torch.Tensor, names: list[str], views: int, tile: int = 128
               ) -> np.ndarray:
    """A contact sheet (H, W, 3) uint8 BGR: one row per gesture (``names``), each of its ``views``
    views as a render / synthesis pair; images (views * G, 3, S, S) as ``gesture_batch`` orders
    them (gesture g, view v at ``v * G + g``)."""
    label_w = 110
    render_tiles = to_tiles(renders, tile, cv2.INTER_AREA if renders.shape[-1] > tile else cv2.INTER_NEAREST)
    synth_tiles = to_tiles(syntheses, tile, cv2.INTER_AREA if syntheses.shape[-1] > tile else cv2.INTER_NEAREST)
    lines = []
    for g, name in enumerate(names):
        label = np.full((tile, label_w, 3), 255, np.uint8)
        cv2.putText(label, name, (6, tile // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        row = [label]
        for v in range(views):
            i = v * len(names) + g
            row += [render_tiles[i], synth_tiles[i], np.full((tile, 6, 3), 255, np.uint8)]
        lines.append(np.hstack(row))
    header = np.full((22, lines[0].shape[1], 3), 255, np.uint8)
    for v in range(views):
        x = label_w + v * (2 * tile + 6)
        cv2.putText(header, "render | synthesis", (x + 6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return np.vstack([header] + lines)
