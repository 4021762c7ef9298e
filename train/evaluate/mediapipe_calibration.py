"""How MediaPipe's hand boxes differ from the project's framing, measured on renders.

``python -m train.evaluate.mediapipe_calibration [--composites 2000] [--seed 101]``

Renders composites of one whole hand each (110-260 px keypoint boxes, little clutter, so that
MediaPipe finds them), runs MediaPipe Hands on them with its landmarks framed as they lie
(``MediaPipeHands(box_scale=1)``) and compares each found box with the box of the renderer's
keypoints (the datasets' conventions, ``docs/results.md``): the median ratio of the sides is
``core.finder.mediapipe_hands.LANDMARK_BOX_SCALE``. It is fitted on the first half of the hands
and checked on the second (hands found by the issue's measure, ``train.hand_finder.match``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

from core.cli_args import Parser, int_range, seed
from core.finder.boxes import Detection, box_iou
from train.hand_finder.data import CompositeConfig, CompositeMaker
from train.hand_finder.match import LabelledHand, match

PAIRING_IOU = 0.3  # a MediaPipe box overlapping the rendered hand's box by less is another thing
CALIBRATION_DATA = replace(CompositeConfig(), canvas=320, box_px=(110.0, 260.0), hand_counts=(0.0, 1.0),
                           occluder_probability=0.0, distractors=(0, 1), clutter=(0, 4), upright_fraction=0.7)


@dataclass
class BoxPair:
    """A rendered hand (its keypoints (21, 2) px) and the box MediaPipe put on it (x0, y0, x1, y1)."""

    keypoints: np.ndarray
    found: tuple[float, float, float, float]

    @property
    def truth(self) -> tuple[float, float, float, float]:
        return LabelledHand(self.keypoints).box


def side_ratio(pairs: list[BoxPair]) -> np.ndarray:
    """(N,) side of the keypoints' box / side of MediaPipe's box, per pair."""
    return np.array([(p.truth[2] - p.truth[0]) / (p.found[2] - p.found[0]) for p in pairs])


def widened(box: tuple[float, ...], scale: float) -> tuple[float, float, float, float]:
    """``box`` (x0, y0, x1, y1) scaled by ``scale`` about its centre."""
    cx, cy, half = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3]), 0.5 * scale * (box[2] - box[0])
    return cx - half, cy - half, cx + half, cy + half


def found_share(pairs: list[BoxPair], scale: float) -> float:
    """Share of the pairs' hands the MediaPipe box, widened by ``scale``, finds (the issue's measure)."""
    hits = [match([Detection(widened(p.found, scale), 1.0, False)], [LabelledHand(p.keypoints)]).found[0] for p in pairs]
    return float(np.mean(hits)) if hits else 0.0


def collect(composites: int, seed: int) -> list[BoxPair]:
    """Render ``composites`` one-hand canvases and pair each whole hand with MediaPipe's box on it."""
    from core.finder.mediapipe_hands import MediaPipeHands

    detector = MediaPipeHands(max_hands=2, box_scale=1.0)
    maker = CompositeMaker(CALIBRATION_DATA, seed=seed)
    pairs: list[BoxPair] = []
    with tqdm(total=composites, desc="composites", unit="img") as progress:
        while progress.n < composites:
            for canvas in maker.batch(min(16, composites - progress.n)):
                progress.update(1)
                if len(canvas.hands) != 1:
                    continue
                keypoints = canvas.hands[0][2]
                size = canvas.image.shape[0]
                if not ((keypoints >= 0) & (keypoints <= size - 1)).all():
                    continue  # cut by the border: its whole extent is not in the picture
                image = (canvas.image * 255.0 + 0.5).astype(np.uint8)
                truth = LabelledHand(keypoints).box
                best = max(detector.find(image), key=lambda d: box_iou(d.box, truth), default=None)
                if best is not None and box_iou(best.box, truth) >= PAIRING_IOU:
                    pairs.append(BoxPair(keypoints, best.box))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m train.evaluate.mediapipe_calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--composites", type=int_range(40, 100_000), default=2000, help="one-hand composites to render")
    parser.add_argument("--seed", type=seed, default=101)
    args = parser.parse_args(argv)
    pairs = collect(args.composites, args.seed)
    if len(pairs) < 20:
        parser.error(f"MediaPipe found {len(pairs)} of the rendered hands: too few to calibrate; render more")
    fit, check = pairs[: len(pairs) // 2], pairs[len(pairs) // 2:]
    scale = float(np.median(side_ratio(fit)))
    ratios = side_ratio(pairs)
    report = {"hands": len(pairs), "composites": args.composites, "scale": round(scale, 3),
              "ratio_quartiles": [round(float(q), 3) for q in np.percentile(ratios, [25, 50, 75])],
              "held_out_found_as_is": round(found_share(check, 1.0), 3),
              "held_out_found_widened": round(found_share(check, scale), 3)}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
