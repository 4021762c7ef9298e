"""Measure the photo estimate's evidence on the labelled real fixture photos.

    python -m train.evaluate.photo_fit [--fixtures DIR] [--write-results docs/results.md] [--json]

Every labelled hand (``train.fixtures.fixture_hands``) is framed by the square box of its
labelled visible keypoints and estimated four ways: the image encoder alone (its side read
flip-consistently, as the app reads a box without landmarks); MediaPipe's own landmarks (2D: its
image landmarks, 3D: its world landmarks) read in the box (``MediaPipeHands.find_in_box``); the
pose prior fitted to those landmarks from prior draws alone; and fitted from the encoder's
posterior too (``core.photo_estimate.estimate_in_box``, what the app does). Where MediaPipe reads
no hand in the box, the three landmark rows take the encoder's estimate, so every hand counts in
every row. 2D error: mean over the labelled visible joints in photo pixels, and per side of the
box; side right where labelled; 3D error and PA-EPE on InterHand2.6M by ``train.evaluate.synthetic``'s
protocol (``train.evaluate.real.hand_result``).

Then the score (``PhotoHandEstimate.score``) of boxes on hands against boxes on no hand: the
project's finder's boxes that overlap no labelled hand (faces, bodies, leaves; IoU < 0.1) and two
random boxes per photo that overlap none. The section goes between ``<!-- photo-fit:start -->``
and ``<!-- photo-fit:end -->``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.api import HandModel
from core.data.crop import crop_square
from core.finder import box_iou
from core.finder.combined import make_finder
from core.landmark_fit import LandmarkFitConfig
from core.photo_estimate import LANDMARKS, default_box_reader, estimate_in_box
from train.doc_sections import markers, write_section
from train.fixtures import DEFAULT_FIXTURES
from train.evaluate.real import Framed, HandResult, Row, table
from train.evaluate.real import hand_result as crop_result
from train.fixtures import fixture_hands

START, END = markers("photo-fit")
ROWS = ("image encoder", "MediaPipe's landmarks (3D: its world landmarks)", "fit, prior draws", "fit, with the encoder")


def _result(item: Framed, keypoints_2d: np.ndarray, keypoints_3d: np.ndarray, is_left: bool) -> HandResult:
    """``train.evaluate.real.hand_result`` for 2D keypoints (21, 2) in photo pixels."""
    x0, y0, x1, _ = item.box
    in_crop = (keypoints_2d - np.array([x0, y0])) * (item.crop.shape[0] / (x1 - x0))
    return crop_result(item, in_crop, keypoints_3d, is_left)


def measure_hands(model: HandModel, photos, reader) -> tuple[dict[str, list[HandResult]], int, list[float]]:
    """Per row of ``ROWS``, the results of every labelled hand; how many MediaPipe read; fit seconds."""
    results: dict[str, list[HandResult]] = {name: [] for name in ROWS}
    read, seconds = 0, []
    prior_only = replace(LandmarkFitConfig(), posterior_samples=0)
    for photo in photos:
        image = photo.photo.image
        for hand in photo.hands:
            box = hand.box
            item = Framed(hand, photo.photo.dataset, crop_square(image, (box[0], box[1], box[2] - box[0]),
                                                                 model.image_size), box)
            encoder = estimate_in_box(model, image, box, reader=None)
            found = None if reader is None else reader.find_in_box(image, box)
            results[ROWS[0]].append(_result(item, encoder.keypoints_2d, encoder.keypoints_3d, encoder.is_left))
            if found is None:
                for name in ROWS[1:]:
                    results[name].append(results[ROWS[0]][-1])
                continue
            read += 1
            results[ROWS[1]].append(_result(item, found.landmarks, found.world_landmarks, found.is_left))
            for name, config in ((ROWS[2], prior_only), (ROWS[3], LandmarkFitConfig())):
                started = time.thread_time()
                fit = estimate_in_box(model, image, box, detection=found, config=config)
                seconds.append(time.thread_time() - started)
                results[name].append(_result(item, fit.keypoints_2d, fit.keypoints_3d, fit.is_left))
    return results, read, seconds


def measure_scores(model: HandModel, photos, reader, seed: int = 0) -> list[dict]:
    """The score of boxes on labelled hands and on no hand (finder boxes overlapping none, random boxes)."""
    finder = make_finder(None, use_mediapipe=False)
    rng = np.random.default_rng(seed)
    out = []
    for photo in photos:
        image = photo.photo.image
        height, width = image.shape[:2]
        hands = [h.box for h in photo.hands]
        boxes = [(b, "hand") for b in hands]
        boxes += [(d.box, "finder box on no hand") for d in finder.find(image) if max(box_iou(d.box, b) for b in hands) < 0.1]
        for _ in range(2):
            side = rng.uniform(0.2, 0.5) * min(height, width)
            x, y = rng.uniform(0, width - side), rng.uniform(0, height - side)
            box = (x, y, x + side, y + side)
            if max(box_iou(box, b) for b in hands) < 0.1:
                boxes.append((box, "random box on no hand"))
        for box, kind in boxes:
            est = estimate_in_box(model, image, box, reader=reader)
            out.append({"kind": kind, "score": est.score, "landmarks": est.evidence == LANDMARKS,
                        "encoder_mean": float(np.mean(est.confidence)) if est.evidence != LANDMARKS else None})
    return out


def score_table(scores: list[dict]) -> list[str]:
    lines = ["| boxes | count | MediaPipe read a hand | score min / median / max | the encoder's own mean joint confidence, median (without landmarks) |",
             "|---|---|---|---|---|"]
    for kind in ("hand", "finder box on no hand", "random box on no hand"):
        rows = [s for s in scores if s["kind"] == kind]
        if not rows:
            continue
        values = np.array([s["score"] for s in rows])
        own = [s["encoder_mean"] for s in rows if s["encoder_mean"] is not None]
        lines.append(f"| {kind} | {len(rows)} | {sum(s['landmarks'] for s in rows)} | {values.min():.2f} / "
                     f"{np.median(values):.2f} / {values.max():.2f} | {np.median(own) if own else float('nan'):.2f} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.evaluate.photo_fit", description=__doc__.split("\n\n")[0])
    p.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    p.add_argument("--write-results", type=Path, help="markdown file whose photo-fit section is (re)written")
    p.add_argument("--json", action="store_true", help="print one JSON line of the totals last")
    args = p.parse_args(argv)
    if not args.fixtures.is_dir():
        print(f"note: no fixture photos at {args.fixtures}: nothing to measure", file=sys.stderr)
        return 0
    model, reader = HandModel.load(), default_box_reader()
    if reader is None:
        print("error: MediaPipe is not installed (Python >= 3.13): there are no landmarks to measure", file=sys.stderr)
        return 2
    photos = fixture_hands(args.fixtures)
    results, read, seconds = measure_hands(model, photos, reader)
    datasets = list(dict.fromkeys(p.photo.dataset for p in photos))
    rows = []
    for name in ROWS:
        by_set = {d: Row(name, d) for d in datasets}
        for r in results[name]:
            by_set[r.dataset].results.append(r)
        rows += [r for r in by_set.values() if r.results] + [Row(name, "all", results[name])]
    scores = measure_scores(model, photos, reader)
    lines = table(rows, False) + ["", *score_table(scores)]
    lines[0] = lines[0].replace("side rule", "estimate", 1)
    print("\n".join(lines))
    print(f"MediaPipe read {read} of {sum(len(p.hands) for p in photos)} labelled hands; fit CPU time "
          f"p50 {np.median(seconds):.3f} s")
    if args.write_results:
        write_section(args.write_results, "\n".join([START, "### On the labelled fixture photos", "",
                                                      f"`python -m train.evaluate.photo_fit --write-results docs/results.md`, "
                                                      f"{time.strftime('%Y-%m-%d')}; MediaPipe read {read} of "
                                                      f"{sum(len(p.hands) for p in photos)} labelled hands in their boxes "
                                                      "(the others count with the encoder's estimate in every row).",
                                                      "", *lines, END]), START, END)
    if args.json:
        print(json.dumps({name: Row(name, "all", results[name]).totals() for name in ROWS} | {"read": read}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
