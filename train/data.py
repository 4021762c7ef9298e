"""Synthetic data CLI: ``python -m train.data generate|preview``.

``generate`` writes the cached layout that ``core.data.loaders.cached.SyntheticCachedDataset``
reads (FreiHAND layout plus factor labels), in resumable chunks:

    <out>/training/rgb/%08d.jpg        augmented composite, JPEG quality 95
    <out>/training/mask/%08d.png       hand coverage 0-255
    <out>/training/content/%08d.jpg    the background alone (content tag)
    <out>/training_K.json              (N, 3, 3) intrinsics
    <out>/training_xyz.json            (N, 21, 3) metres, camera frame, FreiHAND order
    <out>/training_dvae_labels.npz     is_left (N,), appearance (N, 8), visible (N, 21), and
        keypoints_2d (N, 21, 2) px, angles (N, 20) rad, canonical_pose (N, 21, 3) (wrist at 0,
        wrist->middle MCP = 1, left hands mirrored), viewpoint (N, 3, 3) canonical -> camera,
        scale_mm (N,) wrist->middle-MCP length, background_id (N,) atlas tile (-1 gradient),
        show_forearm (N,) bool
    <out>/chunks/                      per-chunk labels and generate.json (the run's settings)

Each chunk's label file is written atomically after its images, so a rerun resumes after the
last complete chunk; sample i depends only on (seed, i), so an interrupted and resumed run
writes the same files as an uninterrupted one.
"""
from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from core.cli_args import Parser, count, int_range, seed
from core.data.loaders.cached import content_path, dvae_labels_path
from core.data.loaders.freihand import freihand_image_path, freihand_mask_path, write_freihand_labels
from core.data.synthetic import SyntheticBatch, SyntheticConfig, SyntheticRenderer
from core.hand.canonical import to_canonical
from core.render.overlay import contact_sheet, draw_skeleton, to_uint8_rgb

LAYOUT_VERSION = 1
SPLIT = "training"
LABEL_ARRAYS = ("K", "xyz_m", "is_left", "appearance", "visible", "keypoints_2d", "angles", "canonical_pose",
                "viewpoint", "scale_mm", "background_id", "show_forearm")


def _chunk_path(out: Path, chunk: int) -> Path:
    return out / "chunks" / f"labels_{chunk:06d}.npz"


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(tmp, path)


def _write_image(path: Path, rgb: np.ndarray, params: list[int]) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb, params):
        raise OSError(f"could not write {path}")


def _labels(result: SyntheticBatch, renderer: SyntheticRenderer) -> dict[str, np.ndarray]:
    batch, scene = result.batch, result.scene
    canonical = to_canonical(batch.keypoints_3d.double().cpu(), batch.is_left.cpu())
    return {
        "K": batch.K.double().cpu().numpy(),
        "xyz_m": batch.keypoints_3d.double().cpu().numpy() / 1000.0,
        "is_left": batch.is_left.cpu().numpy().astype(bool),
        "appearance": batch.appearance.float().cpu().numpy(),
        "visible": batch.visible.cpu().numpy().astype(bool),
        "keypoints_2d": batch.keypoints_2d.float().cpu().numpy(),
        "angles": scene.angles.float().cpu().numpy(),
        "canonical_pose": canonical.pose.float().numpy(),
        "viewpoint": canonical.viewpoint.float().numpy(),
        "scale_mm": canonical.scale.float().numpy(),
        "background_id": renderer.backgrounds.tile_indices(scene.background_draws).cpu().numpy().astype(np.int64),
        "show_forearm": scene.appearance.show_forearm.cpu().numpy().astype(bool),
    }


def _write_samples(out: Path, result: SyntheticBatch) -> None:
    batch = result.batch
    jpeg = [cv2.IMWRITE_JPEG_QUALITY, 95]
    for row, index in enumerate(batch.index.tolist()):
        _write_image(freihand_image_path(out, SPLIT, index), to_uint8_rgb(batch.image[row]), jpeg)
        mask = (batch.mask[row, 0].clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
        _write_image(freihand_mask_path(out, SPLIT, index), mask, [])
        _write_image(content_path(out, index, SPLIT), to_uint8_rgb(batch.content[row]), jpeg)


def _check_settings(out: Path, settings: dict) -> None:
    path = out / "chunks" / "generate.json"
    if path.is_file():
        previous = json.loads(path.read_text())
        for key in ("seed", "size", "chunk", "layout"):
            if previous.get(key) != settings[key]:
                raise SystemExit(f"{path}: this folder was generated with {key}={previous.get(key)!r}, "
                                 f"not {settings[key]!r}; use another --out or the same settings")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=1))


def _chunk_complete(path: Path, rows: int) -> bool:
    try:
        with np.load(path, allow_pickle=False) as data:
            return all(name in data for name in LABEL_ARRAYS) and len(data["is_left"]) == rows
    except (OSError, ValueError, EOFError):
        return False


def generate(out: Path, count: int, seed: int, size: int, chunk: int = 512, batch_size: int = 64,
             device: str = "cpu", progress: bool = True) -> dict:
    """Write (or resume) ``count`` samples under ``out``; returns {"written", "skipped", "img_s"}."""
    if count <= 0 or chunk <= 0 or batch_size <= 0:
        raise SystemExit("generate: --count, --chunk and --batch must be positive")
    out = Path(out)
    _check_settings(out, {"seed": seed, "size": size, "chunk": chunk, "layout": LAYOUT_VERSION})
    for sub in ("rgb", "mask", "content"):
        (out / SPLIT / sub).mkdir(parents=True, exist_ok=True)
    chunks = (count + chunk - 1) // chunk
    todo = [c for c in range(chunks) if not _chunk_complete(_chunk_path(out, c), min(chunk, count - c * chunk))]
    renderer = SyntheticRenderer(SyntheticConfig.at_size(size), device) if todo else None
    written = 0
    start = time.perf_counter()
    bar = tqdm(total=sum(min(chunk, count - c * chunk) for c in todo), unit="img", disable=not progress,
               desc="generate")
    # Image encoding (OpenCV releases the GIL) overlaps the next batch's rendering; a chunk's
    # labels are written only after all its images are on disk.
    with ThreadPoolExecutor(max_workers=1) as writer:
        for c in todo:
            first, last = c * chunk, min((c + 1) * chunk, count)
            parts: list[dict[str, np.ndarray]] = []
            pending = []
            for lo in range(first, last, batch_size):
                result = renderer.render(list(range(lo, min(lo + batch_size, last))), seed)
                pending.append(writer.submit(_write_samples, out, result))
                parts.append(_labels(result, renderer))
                written += result.batch.batch_size
                bar.update(result.batch.batch_size)
            for job in pending:
                job.result()  # re-raises a failed write
            _atomic_savez(_chunk_path(out, c), {k: np.concatenate([p[k] for p in parts]) for k in LABEL_ARRAYS})
    bar.close()
    elapsed = time.perf_counter() - start
    _finalise(out, chunks, count)
    return {"written": written, "skipped": count - written, "img_s": written / elapsed if written else 0.0}


def _finalise(out: Path, chunks: int, count: int) -> None:
    """(Re)build the split's json and npz files from the chunk label files."""
    parts = []
    for c in range(chunks):
        with np.load(_chunk_path(out, c), allow_pickle=False) as data:
            parts.append({k: data[k] for k in LABEL_ARRAYS})
    labels = {k: np.concatenate([p[k] for p in parts])[:count] for k in LABEL_ARRAYS}
    write_freihand_labels(out, SPLIT, labels["K"], labels["xyz_m"])
    _atomic_savez(dvae_labels_path(out, SPLIT), {k: v for k, v in labels.items() if k not in ("K", "xyz_m")})


def _tile(image: torch.Tensor, keypoints_2d: torch.Tensor, visible: torch.Tensor, zoom: int, skeleton: bool) -> np.ndarray:
    rgb = to_uint8_rgb(image)
    if zoom > 1:
        rgb = cv2.resize(rgb, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    if not skeleton:
        return rgb
    # Keypoints are at pixel centres (integer coordinates): scale about the half-pixel grid.
    points = (keypoints_2d.detach().cpu().double().numpy() + 0.5) * zoom - 0.5
    return draw_skeleton(rgb, points, visible.detach().cpu().numpy(), radius=1 + zoom // 2)


def _preview_samples(source: str, count: int, seed: int, size: int, zoom: int, skeleton: bool) -> list[np.ndarray]:
    if source == "synthetic":
        renderer = SyntheticRenderer(SyntheticConfig.at_size(size))
        tiles = []
        for lo in range(0, count, 64):
            batch = renderer.render(list(range(lo, min(lo + 64, count))), seed).batch
            tiles += [_tile(batch.image[i], batch.keypoints_2d[i], batch.visible[i], zoom, skeleton)
                      for i in range(batch.batch_size)]
        return tiles
    from core.data.loaders.cached import SyntheticCachedDataset

    root = Path(source)
    if not dvae_labels_path(root, SPLIT).is_file():
        raise SystemExit(f"preview: {dvae_labels_path(root, SPLIT)} not found; pass a folder written by "
                         "`python -m train.data generate` or the word 'synthetic'")
    dataset = SyntheticCachedDataset(root)
    tiles = []
    for i in range(min(count, len(dataset))):
        sample = dataset[i]
        tiles.append(_tile(sample.image, sample.keypoints_2d, sample.visible, zoom, skeleton))
    return tiles


def preview(source: str, out: Path, count: int = 64, seed: int = 0, size: int = 128, columns: int = 8,
            zoom: int = 1, skeleton: bool = True) -> Path:
    """Write a contact sheet of ``count`` samples (2D skeletons drawn over them) to ``out`` (PNG).

    ``zoom`` enlarges each tile so the skeleton does not hide small hands.
    """
    tiles = _preview_samples(source, count, seed, size, max(1, zoom), skeleton)
    sheet = contact_sheet(tiles, columns)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_image(out, sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9] if out.suffix.lower() == ".png" else [])
    return out


# The command lines' bounds: crops the renderer draws (16 px holds a hand; 1024 px already takes
# ~25 MB a sample in a batch), 10 million samples (~300 GB at 128 px), and a preview sheet that
# stays a picture (1,024 tiles).
SIZES = (16, 1024)
MAX_SAMPLES, MAX_CHUNK, MAX_BATCH, MAX_PREVIEW = 10_000_000, 100_000, 4096, 1024


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m train.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="render labelled synthetic hands into a cached FreiHAND-style layout")
    gen.add_argument("--out", type=Path, required=True, help="output folder (resumes if it holds chunks)")
    gen.add_argument("--count", type=count(MAX_SAMPLES), required=True, help="number of samples")
    gen.add_argument("--seed", type=seed, default=0)
    gen.add_argument("--size", type=int_range(*SIZES, "pixels"), default=128, help="crop side in pixels")
    gen.add_argument("--chunk", type=count(MAX_CHUNK), default=512, help="samples per resumable chunk")
    gen.add_argument("--batch", type=count(MAX_BATCH), default=64, help="samples rendered together")
    gen.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    pre = sub.add_parser("preview", help="contact sheet with 2D skeletons drawn over samples")
    pre.add_argument("source", help="a folder written by `generate`, or 'synthetic' to render on the fly")
    pre.add_argument("--out", type=Path, required=True, help="PNG to write")
    pre.add_argument("--count", type=count(MAX_PREVIEW), default=64)
    pre.add_argument("--seed", type=seed, default=0)
    pre.add_argument("--size", type=int_range(*SIZES, "pixels"), default=128)
    pre.add_argument("--columns", type=count(64), default=8)
    pre.add_argument("--zoom", type=count(16), default=1, help="enlarge each tile this many times")
    pre.add_argument("--no-skeleton", action="store_true", help="images only")
    args = parser.parse_args(argv)
    torch.set_flush_denormal(True)
    if args.command == "generate":
        stats = generate(args.out, args.count, args.seed, args.size, args.chunk, args.batch, args.device,
                         progress=not args.quiet)
        print(f"wrote {stats['written']} samples ({stats['skipped']} already there) to {args.out} "
              f"at {stats['img_s']:.1f} images/s")
    else:
        path = preview(args.source, args.out, args.count, args.seed, args.size, args.columns, args.zoom,
                       not args.no_skeleton)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
