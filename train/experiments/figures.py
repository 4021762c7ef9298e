"""Pictures of the experiments (OpenCV only): reconstructions, latent walks, pose transfers and
PCK curves. Each function returns a BGR uint8 image; ``save_png`` writes it."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from core.data.sample import HandBatch
from core.metrics import PoseMetrics
from core.models import DVAE, POSE_BLOCKS
from train.experiments.probe import synthesize_from_labels
from train.sheets import labelled_rows, to_tiles


CURVE_COLOURS = ((60, 60, 220), (60, 160, 60), (200, 120, 40), (160, 60, 160), (40, 160, 200))


@torch.no_grad()
def reconstructions(dvae: DVAE, batch: HandBatch, tile: int = 96, count: int = 8) -> np.ndarray:
    """The first ``count`` test renders, the dVAE's reconstructions (mean of q(z|x)) and its
    syntheses from their labels."""
    device = next(dvae.parameters()).device
    images = batch.image[:count].to(device)
    recon = dvae.decode_image(dvae.image_posterior(images).mu)
    synth = synthesize_from_labels(dvae, batch)[:count]
    return labelled_rows([("test render", to_tiles(images, tile)), ("reconstruction", to_tiles(recon, tile)),
                 ("synthesis from\npose+view+content", to_tiles(synth, tile))], tile)


@torch.no_grad()
def latent_walks(dvae: DVAE, batch: HandBatch, steps: int = 7, tile: int = 96) -> np.ndarray:
    """Per latent block: interpolate that block alone from sample A's value to sample B's,
    every other block staying A's (first column = A's reconstruction)."""
    device = next(dvae.parameters()).device
    z = dvae.image_posterior(batch.image[:2].to(device)).mu
    if len(z) < 2:
        raise ValueError("latent_walks needs two samples")
    rows = [(f"walk: {name}", to_tiles(dvae.decode_image(dvae.walk_block(z[0], z[1], name, steps)), tile))
            for name in dvae.layout.names]
    ends = to_tiles(batch.image[:2], tile)
    rows.append(("A, B", ends))
    return labelled_rows(rows, tile)


@torch.no_grad()
def pose_transfers(dvae: DVAE, batch: HandBatch, count: int = 4, tile: int = 96) -> np.ndarray:
    """Row m, column k: the pose and viewpoint of test sample m with the content (+ free
    blocks) of test sample k; the first column shows the pose sources, the top row the contents."""
    device = next(dvae.parameters()).device
    count = min(count, batch.batch_size)
    images = batch.image[:count].to(device)
    z = dvae.image_posterior(images).mu
    sources = to_tiles(images, tile)
    blank = np.full((tile, tile, 3), 255, np.uint8)
    rows = [("content ->", [blank] + sources)]
    for m in range(count):
        mixed = dvae.swap_blocks(z, z[m], POSE_BLOCKS)  # content of every column, the pose of row m
        rows.append((f"pose of {m + 1}", [sources[m]] + to_tiles(dvae.decode_image(mixed), tile)))
    return labelled_rows(rows, tile)


def pck_curves(curves: dict[str, PoseMetrics], size: tuple[int, int] = (560, 360)) -> np.ndarray:
    """PCK (fraction of keypoints within t mm) against t = 0..50 mm, one line per model."""
    width, height = size
    left, right, top, bottom = 60, 170, 28, 40
    canvas = np.full((height, width, 3), 255, np.uint8)
    plot_w, plot_h = width - left - right, height - top - bottom

    def point(t: float, p: float) -> tuple[int, int]:
        return int(left + t / 50.0 * plot_w), int(top + (1.0 - p) * plot_h)

    cv2.rectangle(canvas, point(0, 1), point(50, 0), (0, 0, 0), 1)
    for t in range(0, 51, 10):
        cv2.putText(canvas, f"{t}", (point(t, 0)[0] - 8, height - bottom + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    for p in (0.0, 0.5, 1.0):
        cv2.putText(canvas, f"{p:.1f}", (left - 30, point(0, p)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.putText(canvas, "threshold (mm)", (left + plot_w // 2 - 50, height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    cv2.putText(canvas, "PCK", (left - 34, top - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    for i, (name, metrics) in enumerate(curves.items()):
        colour = CURVE_COLOURS[i % len(CURVE_COLOURS)]
        pts = np.array([point(t, p) for t, p in zip(metrics.pck_thresholds_mm, np.nan_to_num(metrics.pck_curve))])
        cv2.polylines(canvas, [pts.reshape(-1, 1, 2).astype(np.int32)], False, colour, 2, cv2.LINE_AA)
        y = top + 16 + 18 * i
        cv2.line(canvas, (width - right + 10, y - 4), (width - right + 30, y - 4), colour, 2)
        cv2.putText(canvas, name[:18], (width - right + 36, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def save_png(image: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"could not write {path}")
    return path
