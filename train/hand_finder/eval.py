"""Measure the hand finder on every labelled real photo of the fixtures and on held-out composites.

    python -m train.hand_finder.eval [--detector combined|finder|mediapipe] [--finder default|PATH]
           [--fixtures DIR] [--renders 300] [--write-results docs/results.md]
           [--sheet docs/img/hand_finding.png] [--unlabelled-sheet docs/img/hand_finding_unlabelled.png]
           [--miss-sheet docs/img/hand_finding_missed.png] [--json]

``--detector``: what ``HandModel.find_hands`` uses (``combined``: MediaPipe Hands first, then the
project's finder, ``core.finder.combined``), the project's finder alone, or MediaPipe alone.

A hand is found when a detection has IoU >= 0.5 with its labelled box (the training crops'
framing of its labelled keypoints) and holds every labelled keypoint (``train.hand_finder.match``).
The labelled photos are the fixtures ``train.fixtures`` reads (for measurement only, never trained
or tuned on). The table goes between the markers
``<!-- hand-finding:start -->`` and ``<!-- hand-finding:end -->`` of ``--write-results``.
"""
from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.checkpoint import CheckpointError
from core.cli_args import Parser, int_range
from core.finder.boxes import Detection
from core.finder.combined import Finds, make_finder
from core.finder.finder import HandFinder
from train.doc_sections import markers, write_section
from train.fixtures import DEFAULT_FIXTURES, fixture_photos, unlabelled_photos
from train.hand_finder.data import CompositeConfig
from train.hand_finder.match import LabelledHand, MatchResult, Photo, inside_picture, match
from train.hand_finder.sheets import contact_sheet, first_box_sheet, missed_sheet

START, END = markers("hand-finding")
DETECTORS = ("combined", "finder", "mediapipe")
RENDER_SEED = 31_337  # composites for this report (the trainer watches another seed)


@dataclass
class Row:
    """Totals of one group of images."""

    name: str
    images: int = 0
    hands: int = 0
    found: int = 0
    ious: list[float] = field(default_factory=list)
    side_right: int = 0
    side_known: int = 0
    extra: int = 0
    seconds: float = 0.0
    first_on_hand: int = 0  # images with a hand whose first box found one
    with_hands: int = 0

    def add(self, result: MatchResult, seconds: float) -> None:
        self.images += 1
        self.hands += len(result.found)
        self.found += sum(result.found)
        self.ious += [iou for iou, ok in zip(result.iou, result.found) if ok]
        known = [s for s in result.side_right if s is not None]
        self.side_right += sum(known)
        self.side_known += len(known)
        self.extra += result.extra
        self.seconds += seconds
        if result.found:
            self.with_hands += 1
            self.first_on_hand += result.first_is_hand

    def cells(self) -> list[str]:
        side = f"{self.side_right} of {self.side_known}" if self.side_known else "n/a"
        iou = f"{np.mean(self.ious):.2f}" if self.ious else "n/a"
        return [self.name, str(self.images), str(self.hands), f"{self.found} ({self.found / max(self.hands, 1):.0%})",
                iou, f"{self.first_on_hand} of {self.with_hands}", side, f"{self.extra / max(self.images, 1):.2f}", f"{1000 * self.seconds / max(self.images, 1):.0f}"]


def measure(finder: Finds, photos: list[Photo]) -> tuple[list[Row], list[list[Detection]]]:
    rows: dict[str, Row] = {}
    found_boxes = []
    for photo in photos:
        started = time.perf_counter()
        detections = finder.find(photo.image)
        seconds = time.perf_counter() - started
        rows.setdefault(photo.dataset, Row(photo.dataset)).add(match(detections, photo.hands), seconds)
        found_boxes.append(detections)
    return list(rows.values()), found_boxes


def render_photos(count: int, seed: int = RENDER_SEED) -> list[Photo]:
    from train.hand_finder.training import validation_set

    out = []
    for i, canvas in enumerate(validation_set(CompositeConfig(), count, seed)):
        image = (canvas.image * 255.0 + 0.5).astype(np.uint8)
        hands = []
        for _, left, kp in canvas.hands:
            in_view = inside_picture(kp, image.shape)
            hands.append(LabelledHand(in_view, left, cut=len(in_view) < len(kp)))
        out.append(Photo("renders", f"composite {i}", image, hands))
    return out


SIZE_BANDS = (0.0, 32.0, 64.0, 128.0, float("inf"))  # side (px) of a labelled box, composites' breakdown


def breakdown(photos: list[Photo], detections: list[list[Detection]]) -> list[tuple[str, int, int]]:
    """(group, hands, found) of the hands of ``photos`` by the side of their labelled box
    (``SIZE_BANDS``) and by whether the picture's border cuts them: where the misses are."""
    groups: dict[str, list[int]] = {}
    names = [f"{low:.0f}-{high:.0f} px" if high < float("inf") else f"{low:.0f} px and more"
             for low, high in zip(SIZE_BANDS[:-1], SIZE_BANDS[1:])]
    for name in names + ["whole in the picture", "cut by the border"]:
        groups[name] = [0, 0]
    for photo, found in zip(photos, detections):
        result = match(found, photo.hands)
        for hand, ok in zip(photo.hands, result.found):
            side = hand.box[2] - hand.box[0]
            band = names[int(np.searchsorted(SIZE_BANDS, side, side="right")) - 1]
            for name in (band, "cut by the border" if hand.cut else "whole in the picture"):
                groups[name][0] += 1
                groups[name][1] += ok
    return [(name, hands, found) for name, (hands, found) in groups.items()]


def breakdown_lines(groups: list[tuple[str, int, int]]) -> list[str]:
    """A markdown table of ``breakdown``."""
    lines = ["| composite hands | hands | found |", "|---|---|---|"]
    return lines + [f"| {name} | {hands} | {found} ({found / max(hands, 1):.0%}) |" for name, hands, found in groups]


HEADER = ["images", "what", "hands", "found", "mean IoU (found)", "first box on a hand", "side right (where labelled)",
          "extra boxes per image", "ms per image"]


def describe(detector: str, finder_path: str) -> str:
    """Words for what was measured: ``--detector`` and ``--finder``."""
    if detector == "mediapipe":
        return "MediaPipe Hands 0.10.14 alone"
    step = HandFinder.load(None if finder_path == "default" else finder_path).meta
    own = f"the project's finder `{finder_path}` (step {step.step if step else 0})"
    return own + " alone" if detector == "finder" else f"MediaPipe Hands 0.10.14 first, then {own}"


def section(rows: list[Row], described: str, sheet: str | None, command: str,
            groups: list[tuple[str, int, int]] | None = None) -> str:
    lines = [START, "## Finding hands in whole photos", "",
             f"`{command}` on {platform.machine()} ({len(__import__('os').sched_getaffinity(0))} CPU cores), "
             f"{time.strftime('%Y-%m-%d')}; {described}. A hand is found when a box has "
             "IoU >= 0.5 with the labelled box (the training crops' framing of the labelled keypoints: square, "
             "centred, 4/3 of the keypoints' longer side) and holds every labelled keypoint. \"First box on a "
             "hand\" counts the images whose best box found a hand (the box the app frames when a photo opens). "
             "The real photos "
             "are for measuring only: the project's finder is trained on its renders alone.", "",
             "| " + " | ".join(HEADER[1:2] + HEADER[:1] + HEADER[2:]) + " |", "|" + "---|" * len(HEADER)]
    total = Row("all real photos")
    for row in rows:
        if row.name != "renders":
            for key in ("images", "hands", "found", "side_right", "side_known", "extra", "first_on_hand", "with_hands"):
                setattr(total, key, getattr(total, key) + getattr(row, key))
            total.ious += row.ious
            total.seconds += row.seconds
    ordered = [r for r in rows if r.name != "renders"] + [total] + [r for r in rows if r.name == "renders"]
    for row in ordered:
        cells = row.cells()
        lines.append("| " + " | ".join([cells[0].replace("renders", "held-out composites of renders")] + cells[1:]) + " |")
    if groups:
        lines += ["", "The composites' hands by the side of their labelled box and by the canvas border:", ""]
        lines += breakdown_lines(groups)
    if sheet:
        lines += ["", f"![Fixture photos with the labelled boxes (white) and the found ones (orange right, cyan left)]({sheet})"]
    lines.append(END)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="python -m train.hand_finder.eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--detector", choices=DETECTORS, default="combined",
                   help="MediaPipe Hands then the project's finder (what the app uses), the finder alone, or MediaPipe alone")
    p.add_argument("--finder", default="default", help="a hand finder file, or 'default' (assets/hand_finder.safetensors)")
    p.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    p.add_argument("--renders", type=int_range(0, 10_000), default=300, help="held-out composites to measure (0: none)")
    p.add_argument("--write-results", type=Path, help="markdown file whose hand-finding section is (re)written")
    p.add_argument("--sheet", type=Path, help="contact sheet of the fixture photos with their boxes (PNG)")
    p.add_argument("--unlabelled-sheet", type=Path,
                   help="contact sheet of the first box on every unlabelled fixture photo (PNG), to judge by eye")
    p.add_argument("--miss-sheet", type=Path,
                   help="close-ups of the composite hands not found (PNG), to judge by eye whether they could be")
    p.add_argument("--json", action="store_true", help="print one JSON line of the totals last")
    args = p.parse_args(argv)
    needs_photos = [flag for flag, value in (("--write-results", args.write_results), ("--sheet", args.sheet),
                                             ("--unlabelled-sheet", args.unlabelled_sheet)) if value]
    if not args.fixtures.is_dir() and (needs_photos or not args.renders):
        why = " and ".join(needs_photos) + " need them" if needs_photos else "--renders 0 leaves nothing to measure"
        print(f"error: no fixture photos at {args.fixtures} (the test fixtures, not in the repository; pass "
              f"--fixtures DIR): {why}", file=sys.stderr)
        return 2
    try:
        finder = make_finder(None if args.finder == "default" else args.finder,
                             use_mediapipe=args.detector != "finder", use_finder=args.detector != "mediapipe")
        described = describe(args.detector, args.finder)
    except (FileNotFoundError, OSError, ValueError, CheckpointError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    photos = fixture_photos(args.fixtures) if args.fixtures.is_dir() else []
    if not photos:
        print(f"note: no labelled fixture photos under {args.fixtures}", file=sys.stderr)
    rows, found = measure(finder, photos)
    groups = None
    if args.renders:
        composites = render_photos(args.renders)
        render_rows, render_found = measure(finder, composites)
        rows += render_rows
        groups = breakdown(composites, render_found)
        if args.miss_sheet:
            args.miss_sheet.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(args.miss_sheet), cv2.cvtColor(missed_sheet(composites, render_found), cv2.COLOR_RGB2BGR))
    for row in rows:
        print(" | ".join(row.cells()))
    for line in breakdown_lines(groups) if groups else []:
        print(line)
    if args.sheet and photos:
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.sheet), cv2.cvtColor(contact_sheet(photos, found), cv2.COLOR_RGB2BGR))
    unlabelled = unlabelled_photos(args.fixtures) if args.unlabelled_sheet else []
    if unlabelled:
        args.unlabelled_sheet.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.unlabelled_sheet), cv2.cvtColor(first_box_sheet(finder, unlabelled), cv2.COLOR_RGB2BGR))
    if args.write_results:
        sheet = None
        if args.sheet:
            sheet = str(Path(*(args.sheet.resolve().parts))).replace(str(args.write_results.resolve().parent) + "/", "")
        command = "python -m train.hand_finder.eval " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section(args.write_results, section(rows, described, sheet, command.strip(), groups), START, END)
    if args.json:
        real = [r for r in rows if r.name != "renders"]
        renders = [r for r in rows if r.name == "renders"]
        print(json.dumps({"real_hands": sum(r.hands for r in real), "real_found": sum(r.found for r in real),
                          "render_hands": sum(r.hands for r in renders), "render_found": sum(r.found for r in renders),
                          "render_groups": {name: [hands, found] for name, hands, found in groups or []}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
