"""Measure a pose model on every labelled real hand photo of the fixtures.

    python -m train.evaluate.real [--checkpoint default|PATH] [--fixtures DIR] [--framing labelled|finder]
           [--finder default|PATH] [--detector combined|finder|mediapipe] [--write-results docs/results.md] [--json]

Each labelled hand (``train.fixtures.fixture_hands``: OneHand10K, CMU Panoptic, FreiHAND, RHD,
InterHand2.6M) is framed like a training crop: ``--framing labelled`` takes the square box of its
visible keypoints (``core.finder.keypoint_box``), ``finder`` the box of ``HandModel.find_hands``
matched to it (``train.hand_finder.match.match``; a hand no box matches is missing). The box is cut
from the photo as the app cuts it (black past the border) at the model's ``image_size`` and
estimated under three side rules: ``model`` (the model's reading), ``flip`` (test-time flip
consistency, ``HandModel.read_side(flip=True) > 0.5``) and ``labelled`` (the true side, hands with
a side label only); with ``--framing finder`` a fourth, ``found``: the side ``HandModel.find_hands``
gave the box, which the app estimates. Per hand: the 2D error in photo pixels over the labelled visible joints (the
estimate's 2D keypoints mapped back as the app does; they are framed like a training crop, so the
error is that of the pose's shape, not of its place), the same per labelled box side, whether the
side is right, and on InterHand2.6M the 3D errors by ``train.evaluate.synthetic``'s protocol (palm root,
prediction scaled to the ground truth's middle MCP->PIP bone; PA-EPE by a similarity transform),
the crop camera being the photo's camera turned to look through the box centre.
The table goes between ``<!-- real-fixtures:start -->`` and ``<!-- real-fixtures:end -->``.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.api import HandModel
from core.checkpoint import CheckpointError
from core.cli_args import Parser
from core.data.crop import crop_square
from core.finder import Detection, box_iou
from core.finder.combined import make_finder
from core.metrics import PALM, evaluate_pose
from train.doc_sections import markers, write_section
from train.evaluate.synthetic import prediction_in_original_frame
from train.fixtures import DEFAULT_FIXTURES
from train.hand_finder.eval import DETECTORS
from train.hand_finder.match import holds, match
from train.fixtures import FixtureHand, FixturePhoto, crop_rotation, fixture_hands

START, END = markers("real-fixtures")
SIDE_RULES = ("model", "flip", "labelled")
FOUND_RULE = "found"  # finder framing: the side ``HandModel.find_hands`` gave the box (what the app estimates)
FRAMINGS = ("labelled", "finder")


@dataclass
class Framed:
    """A hand to estimate: its labels, dataset, crop (S, S, 3) uint8 and box (x0, y0, x1, y1) px;
    ``found_left`` the side its detection gave (finder framing only; None otherwise)."""

    hand: FixtureHand
    dataset: str
    crop: np.ndarray
    box: tuple[float, float, float, float]
    found_left: bool | None = None


@dataclass
class HandResult:
    """One estimate: 2D error px (mean over the labelled visible joints) and per labelled box side;
    side_right None where the side is not labelled; 3D and PA-EPE mm None without 3D labels."""

    dataset: str
    error_px: float
    error_box: float
    side_right: bool | None
    error_3d_mm: float | None = None
    pa_epe_mm: float | None = None


@dataclass
class Row:
    """Totals of one (side rule, dataset) group; ``missing``: hands the framing did not frame."""

    rule: str
    dataset: str
    results: list[HandResult] = field(default_factory=list)
    missing: int = 0

    def _mean(self, name: str) -> float | None:
        values = [getattr(r, name) for r in self.results if getattr(r, name) is not None]
        return float(np.mean(values)) if values else None

    def totals(self) -> dict[str, float | int | None]:
        sides = [r.side_right for r in self.results if r.side_right is not None]
        box = self._mean("error_box")
        return {"hands": len(self.results), "missing": self.missing, "error_px": self._mean("error_px"),
                "error_box_pct": None if box is None else 100.0 * box, "side_right": sum(sides),
                "side_known": len(sides), "error_3d_mm": self._mean("error_3d_mm"), "pa_epe_mm": self._mean("pa_epe_mm")}

    def cells(self, finder: bool) -> list[str]:
        t = self.totals()

        def number(value: float | None, unit: str = "", digits: int = 1) -> str:
            return "n/a" if value is None else f"{value:.{digits}f}{unit}"

        side = f"{t['side_right']} of {t['side_known']}" if t["side_known"] else "n/a"
        hands = f"{t['hands']}" + (f" ({self.missing} missing)" if finder else "")
        return [self.rule, self.dataset, hands, number(t["error_px"]), number(t["error_box_pct"], " %"), side,
                number(t["error_3d_mm"]), number(t["pa_epe_mm"])]


# ----------------------------------------------------------------------------- framing
def matched_detections(detections: list[Detection], photo: FixturePhoto) -> list[Detection | None]:
    """The detection ``match`` pairs with each hand of the photo (None: not found), in hand order."""
    hands = [h.hand for h in photo.hands]
    result = match(detections, hands)
    free = sorted(detections, key=lambda d: -d.score)
    out: list[Detection | None] = []
    for hand, found, iou in zip(hands, result.found, result.iou):
        pick = next((d for d in free if found and box_iou(d.box, hand.box) == iou and holds(d.box, hand.keypoints)), None)
        if pick is not None:
            free.remove(pick)
        out.append(pick)
    return out


def frame_hands(model: HandModel, photos: list[FixturePhoto], framing: str) -> tuple[list[Framed], list[Framed]]:
    """Crops of every hand by ``framing``, and the hands it missed (their ``crop`` empty, ``box`` the labelled one)."""
    framed, missing = [], []
    for photo in photos:
        dataset, image = photo.photo.dataset, photo.photo.image
        boxes: list = [h.box for h in photo.hands]
        sides: list = [None] * len(boxes)
        if framing == "finder":
            found = matched_detections(model.find_hands(image), photo)
            boxes = [None if d is None else d.box for d in found]
            sides = [None if d is None else d.is_left for d in found]
        for hand, box, side in zip(photo.hands, boxes, sides):
            if box is None:
                missing.append(Framed(hand, dataset, np.zeros((0, 0, 3), np.uint8), hand.box))
                continue
            crop = crop_square(image, (box[0], box[1], box[2] - box[0]), model.image_size)
            framed.append(Framed(hand, dataset, crop, tuple(float(v) for v in box), side))
    return framed, missing


# ----------------------------------------------------------------------------- measuring
def hand_result(item: Framed, keypoints_2d: np.ndarray, keypoints_3d: np.ndarray, is_left: bool) -> HandResult:
    """Errors of one estimate: 2D keypoints (21, 2) in crop pixels, 3D (21, 3) mm in the crop camera."""
    x0, y0, x1, _ = item.box
    in_photo = keypoints_2d * ((x1 - x0) / item.crop.shape[0]) + np.array([x0, y0])  # the app's mapping
    labels = item.hand.joints
    error = float(np.linalg.norm(in_photo - labels.keypoints_2d, axis=-1)[labels.visible].mean())
    box = item.hand.box
    side = None if item.hand.is_left is None else bool(is_left) == item.hand.is_left
    result = HandResult(item.dataset, error, error / (box[2] - box[0]), side)
    if labels.keypoints_3d is not None and labels.K is not None:
        rotation = crop_rotation(labels.K, item.box)
        gt_crop = labels.keypoints_3d @ rotation.T
        pred = prediction_in_original_frame(keypoints_3d[None].astype(np.float64), gt_crop[None], rotation[None])
        metrics = evaluate_pose(pred, labels.keypoints_3d[None], labels.visible[None], root=PALM)
        result.error_3d_mm, result.pa_epe_mm = metrics.epe_mean_mm, metrics.pa_epe_mean_mm
    return result


def sides_for(model: HandModel, items: list[Framed], rule: str) -> np.ndarray | None:
    """The side each crop is estimated as under ``rule``: None (the model's own), (N,) bool."""
    if rule == "model":
        return None
    if rule == "flip":
        return model.read_side(np.stack([f.crop for f in items]), flip=True) > 0.5
    if rule == "found":
        return np.array([bool(f.found_left) for f in items])
    return np.array([bool(f.hand.is_left) for f in items])


def measure(model: HandModel, framed: list[Framed], rule: str) -> list[HandResult]:
    """Estimate every framed hand (with a side label for ``labelled``) under one side rule."""
    items = [f for f in framed if rule != "labelled" or f.hand.is_left is not None]
    if not items:
        return []
    est = model.estimate(np.stack([f.crop for f in items]), is_left=sides_for(model, items, rule))
    return [hand_result(f, est.keypoints_2d[i], est.keypoints_3d[i], est.is_left[i]) for i, f in enumerate(items)]


def group(rule: str, results: list[HandResult], missing: list[Framed], datasets: list[str]) -> list[Row]:
    """Rows of one side rule: one per dataset (in ``datasets`` order) that has hands, then ``all``.
    Under ``labelled``, hands without a side label count neither as measured nor as missing."""
    missed = [m.dataset for m in missing if rule != "labelled" or m.hand.is_left is not None]
    rows = {name: Row(rule, name, missing=missed.count(name)) for name in datasets}
    for result in results:
        rows[result.dataset].results.append(result)
    total = Row(rule, "all", list(results), len(missed))
    return [r for r in rows.values() if r.results or r.missing] + [total]


# ----------------------------------------------------------------------------- report
HEADER = ["side rule", "dataset", "hands", "2D error px", "2D error / box side", "side right (where labelled)",
          "3D error mm (InterHand2.6M)", "PA-EPE mm (InterHand2.6M)"]


def table(rows: list[Row], finder: bool) -> list[str]:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    return lines + ["| " + " | ".join(row.cells(finder)) + " |" for row in rows]


def section(rows: list[Row], command: str, model_name: str, model: HandModel, framing: str, seconds: float) -> str:
    step = model.meta.step if model.meta is not None else 0
    framed_by = ("the square box of its labelled visible keypoints (the training crops' framing)" if framing == "labelled"
                 else "the hand finder's box matched to it (hands no box matches are missing)")
    return "\n".join([
        START, "## The pose estimate on real fixture photos", "",
        f"`{command}` on {platform.machine()} ({len(os.sched_getaffinity(0))} CPU cores), {time.strftime('%Y-%m-%d')} "
        f"({seconds:.0f} s after the imports); model `{model_name}` (step {step}, {model.image_size} px). Each labelled hand of the "
        f"fixtures is framed by {framed_by}, cut as the app cuts it and estimated under three side rules: `model` (the "
        "model's own reading), `flip` (test-time flip consistency: p = (p_left(crop) + 1 - p_left(mirrored crop)) / 2, "
        "estimated as left where p > 0.5; `HandModel.read_side(crops, flip=True)`) and `labelled` (the true side; "
        "hands with a side label only)" + ("; and `found`: the side the finder gave the box, which the app estimates"
                                     if framing == "finder" else "") + ". The 2D error is the mean over the labelled visible joints in photo pixels of "
        "the estimate's 2D keypoints (framed like a training crop, so it judges the pose's shape, not its place), "
        "also per side of the labelled box. The 3D errors follow `train.evaluate.synthetic` (palm root, the prediction scaled "
        "to the ground truth's middle MCP->PIP bone; PA-EPE after a similarity alignment). Read only, never "
        "trained or tuned on; 25 hands are an indication, not a benchmark.", "",
        *table(rows, framing == "finder"), END])


def json_totals(rows: list[Row], framing: str, seconds: float) -> str:
    alls = {row.rule: row.totals() for row in rows if row.dataset == "all"}
    return json.dumps({"framing": framing, "seconds": round(seconds, 2), "rules": alls})


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="python -m train.evaluate.real", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default="default", help="a pose model file, or 'default' (the bundled model)")
    p.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    p.add_argument("--framing", choices=FRAMINGS, default="labelled", help="box of each hand: labelled keypoints or the finder")
    p.add_argument("--finder", default="default", help="with --framing finder: a hand finder file, or 'default' (bundled)")
    p.add_argument("--detector", choices=DETECTORS, default="combined",
                   help="with --framing finder: MediaPipe Hands then the finder (the app's), the finder alone, or MediaPipe alone")
    p.add_argument("--write-results", type=Path, help="markdown file whose real-fixtures section is (re)written")
    p.add_argument("--json", action="store_true", help="print one JSON line of the totals last")
    args = p.parse_args(argv)
    started = time.perf_counter()
    if not args.fixtures.is_dir():  # a fresh clone has none: say so, and fail, so no script reads "measured"
        print(f"error: no fixture photos at {args.fixtures}: this measures the labelled real photos of the test "
              f"fixtures (not in the repository); pass --fixtures DIR", file=sys.stderr)
        return 2
    try:
        model = HandModel.load(None if args.checkpoint == "default" else args.checkpoint)
    except (FileNotFoundError, OSError, ValueError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.framing == "finder":
        try:
            model.finder = make_finder(None if args.finder == "default" else args.finder,
                                       use_mediapipe=args.detector != "finder", use_finder=args.detector != "mediapipe")
        except (FileNotFoundError, OSError, ValueError, CheckpointError, ImportError) as err:
            print(f"error: no hand finder to frame with ({err})", file=sys.stderr)
            return 2
    photos = fixture_hands(args.fixtures)
    if not photos:
        print(f"error: no labelled fixture photos under {args.fixtures}: nothing to measure", file=sys.stderr)
        return 2
    framed, missing = frame_hands(model, photos, args.framing)
    datasets = list(dict.fromkeys(p.photo.dataset for p in photos))
    rules = SIDE_RULES + (FOUND_RULE,) if args.framing == "finder" else SIDE_RULES
    rows = [row for rule in rules for row in group(rule, measure(model, framed, rule), missing, datasets)]
    seconds = time.perf_counter() - started
    print("\n".join(table(rows, args.framing == "finder")))
    if args.write_results:
        command = "python -m train.evaluate.real " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section(args.write_results, section(rows, command.strip(), args.checkpoint, model, args.framing, seconds),
                      START, END)
    if args.json:
        print(json_totals(rows, args.framing, seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
