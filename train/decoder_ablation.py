"""Equal-budget ablation of the image decoder on the CPU, and pose fidelity of syntheses.

``python -m train.decoder_ablation --minutes 10`` trains four decoders for the same CPU budget on
the same synthetic stream: the paper's plain decoder, the pose-guided decoder, the pose-guided
decoder without compositing, and the pose-guided decoder with the pose cycle
(``DisentangleConfig.pose_cycle``); each is saved in ``--out``, and ``--reuse`` loads them
instead of training them again. Each is trained into the latent space of one trained model
(``--base``: its label networks and image encoder, frozen), so the decoders alone differ.
Each is then judged by

- the L1 error on the hand pixels of a fixed synthetic test set (syntheses from the labels);
- pose fidelity: a 2D keypoint judge trained on renders only (``train.judge``) reads the pose
  back from syntheses of fixed test poses; its error there next to its error on the renders of
  the same poses (and how well it reads renders at all);

and drawn in a contact sheet: 16 fixed poses (4 gesture presets in 4 views), render / each
decoder. ``--model PATH`` adds rows for trained models (e.g. the bundled one). The section
between the markers in ``docs/results.md`` is rewritten with the table and the sheet.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from core.checkpoint import load_model, save_model
from core.data.sample import HandBatch
from core.data.synthetic import SyntheticBatchSource, SyntheticConfig, SyntheticRenderer
from core.hand.gestures import Gesture, gesture_angles
from core.models import DVAE, DisentangleConfig, DisentangleObjective
from core.models.pose_maps import frame_keypoints
from core.render.camera import CameraParams
from core.render.scene import sample_scene
from train.experiments.probe import synthesize_from_labels
from train.judge import JudgeConfig, KeypointJudge, keypoint_error_px, load_or_train_judge, render_error_px
from train.tiles import to_tiles

START, END = "<!-- decoder-ablation:start -->", "<!-- decoder-ablation:end -->"
GESTURES = (Gesture.OPEN, Gesture.FIST, Gesture.POINT, Gesture.VICTORY)


@dataclass(frozen=True)
class Variant:
    """One decoder of the ablation."""

    name: str
    pose_maps: bool
    compositing: bool
    pose_cycle: float = 0.0  # ``DisentangleConfig.pose_cycle``
    cycle_low_pass: bool = True  # ``DisentangleConfig.pose_cycle_low_pass``

    @property
    def file_name(self) -> str:
        """The variant's trained model in ``--out``: its name in lower case, words joined by "_"."""
        return "_".join("".join(c if c.isalnum() else " " for c in self.name.lower()).split()) + ".safetensors"


VARIANTS = (Variant("plain (paper)", False, False), Variant("pose-guided", True, True),
            Variant("pose-guided, no compositing", True, False),
            Variant("pose-guided + pose cycle 0.5", True, True, pose_cycle=0.5, cycle_low_pass=False))


@dataclass
class Scores:
    """A decoder's measurements (px at the model's crop size)."""

    name: str
    steps: int
    hand_l1: float           # mean |synthesis - render| over hand pixels, 0..1 scale
    judge_renders_px: float  # judge's 2D error on the renders of the fixed poses
    judge_syntheses_px: float  # ... on the syntheses of the same poses

    @property
    def ratio(self) -> float:
        return self.judge_syntheses_px / max(self.judge_renders_px, 1e-9)


def _views() -> list[torch.Tensor]:
    """Four hand-frame -> camera rotations (3, 3): palm, back, side, tilted (fingers up)."""
    flip = np.diag([1.0, -1.0, -1.0])
    turns = [np.zeros(3), np.array([0.0, math.pi, 0.0]), np.array([0.0, 1.2, 0.0]), np.array([0.7, 0.5, 0.4])]
    return [torch.from_numpy(cv2.Rodrigues(t)[0] @ flip).float() for t in turns]


def palm_view() -> torch.Tensor:
    """The hand-frame -> camera rotation (3, 3) with the palm to the camera, fingers up."""
    return _views()[0]


def render_poses(size: int, angles: torch.Tensor, viewpoints: torch.Tensor, indices: list[int],
                 seed: int) -> HandBatch:
    """Renders of right hands with joint angles (N, 20) rad seen through hand-frame -> camera
    rotations (N, 3, 3), framed at the mean (fill 0.75, centred); hand shape, appearance and
    background are ``sample_scene(indices, seed)``'s (equal indices: the same hand and scene)."""
    renderer = SyntheticRenderer(SyntheticConfig.at_size(size))
    n = len(indices)
    scene = sample_scene(indices, seed, renderer.config.scene)
    scene.angles = angles
    scene.viewpoint = viewpoints
    scene.is_left = torch.zeros(n, dtype=torch.bool)
    scene.camera = CameraParams(torch.full((n,), 500.0), torch.full((n,), 0.75), torch.zeros(n, 2))
    return renderer.render_scene(scene).batch


def gesture_batch(size: int, seed: int = 4) -> HandBatch:
    """16 fixed poses: ``GESTURES`` x 4 views, right hands, framed at the mean (fill 0.75, centred)."""
    return render_poses(size, torch.cat([gesture_angles(g) for _ in range(4) for g in GESTURES]),
                        torch.stack([v for v in _views() for _ in GESTURES]), list(range(16)), seed)


def test_batches(size: int, count: int, seed: int) -> list[HandBatch]:
    source = SyntheticBatchSource(SyntheticConfig.at_size(size), seed=seed, batch_size=min(64, count))
    return [next(source) for _ in range(max(1, count // source.batch_size))]


def decoder_variant(base: DVAE, variant: Variant) -> DVAE:
    """A model with ``base``'s label networks and image encoder and a fresh decoder."""
    config = dataclasses.replace(base.config, decoder_pose_maps=variant.pose_maps,
                                 decoder_compositing=variant.compositing)
    model = DVAE(config)
    for name, module in base.named_children():
        if name != "image_decoder":
            getattr(model, name).load_state_dict(module.state_dict())
    return model


def train_decoder(model: DVAE, minutes: float, batch_size: int, lr: float, seed: int, pose_cycle: float = 0.0,
                  cycle_low_pass: bool = True) -> int:
    """Train only the image decoder for ``minutes`` of wall clock on all torch threads (cosine rate
    over the budget).

    The budget is counted in this process's CPU time (minutes x 60 x torch threads), which equals
    the wall clock on an idle machine and stays fair to every decoder when other work shares it."""
    objective = DisentangleObjective(DisentangleConfig(label_networks_lr_scale=0.0, image_encoder_lr_scale=0.0,
                                                       pose_cycle=pose_cycle, pose_cycle_low_pass=cycle_low_pass))
    optimizer = torch.optim.AdamW(objective.param_groups(model, lr))
    source = SyntheticBatchSource(SyntheticConfig.at_size(model.config.image_size), seed=seed, batch_size=batch_size)
    budget = minutes * 60.0 * torch.get_num_threads()
    start, last_log, step = time.process_time(), time.monotonic(), 0
    model.train()
    while (elapsed := time.process_time() - start) < budget:
        fraction = elapsed / budget
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * fraction)))
        terms = objective(model, next(source))
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        step += 1
        if time.monotonic() - last_log > 60:
            last_log = time.monotonic()
            print(f"  step {step}, image {terms['image'].item():.4f}, {(budget - elapsed) / 60:.1f} CPU-min left",
                  file=sys.stderr, flush=True)
    return step


@torch.no_grad()
def score(name: str, steps: int, model: DVAE, judge: KeypointJudge, fixed: HandBatch,
          tests: list[HandBatch]) -> Scores:
    model.eval()
    hand_err, hand_px = 0.0, 0.0
    for batch in tests:
        synth = synthesize_from_labels(model, batch)
        hand_err += float(((synth - batch.image).abs() * batch.mask).sum())
        hand_px += float(batch.mask.sum()) * 3
    synth = synthesize_from_labels(model, fixed)
    requested, _ = frame_keypoints(fixed.keypoints_3d - fixed.keypoints_3d[:, :1], model.config.image_size)
    return Scores(name, steps, hand_err / max(hand_px, 1.0),
                  float(keypoint_error_px(judge(fixed.image), fixed.keypoints_2d).mean()),
                  float(keypoint_error_px(judge(synth), requested).mean()))


def contact_sheet(rows: list[tuple[str, torch.Tensor]], path: Path, tile: int = 96) -> Path:
    """One row per source (name, (16, 3, S, S)), 16 poses across, a label column on the left."""
    label_w = 200
    lines = []
    for name, images in rows:
        label = np.full((tile, label_w, 3), 255, np.uint8)
        cv2.putText(label, name, (6, tile // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        lines.append(np.hstack([label] + to_tiles(images, tile, cv2.INTER_NEAREST)))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(lines))
    return path


def markdown(scores: list[Scores], minutes: float, sheet: str, judge: JudgeConfig, judge_held_out_px: float,
             machine: str) -> str:
    lines = [START, "## Image decoders at an equal CPU budget", "",
             f"`python -m train.decoder_ablation --minutes {minutes:g}` ({machine}): each decoder trained for "
             f"{minutes:g} min on {torch.get_num_threads()} threads (counted as process CPU time) into the same trained latent space (label networks and image "
             "encoder frozen), batch 32 of 64 px renders. Hand L1: mean absolute error over hand pixels of "
             "256 test syntheses (from their labels). Judge: a 2D keypoint network trained on "
             f"{judge.steps * judge.batch_size:,} renders only (`train.judge`), reading 16 fixed poses "
             "(4 gestures x 4 views) from their renders and from each decoder's syntheses; ratio = "
             "syntheses / renders. The judge reads 256 held-out renders of the training stream at "
             f"{judge_held_out_px:.2f} px mean 2D error ({judge.image_size} px crops).", "",
             "| decoder | steps | hand L1 | judge on renders (px) | judge on syntheses (px) | ratio |",
             "|---|---|---|---|---|---|"]
    for s in scores:
        lines.append(f"| {s.name} | {s.steps:,} | {s.hand_l1:.3f} | {s.judge_renders_px:.2f} | "
                     f"{s.judge_syntheses_px:.2f} | {s.ratio:.2f}x |")
    lines += ["", f"![render / decoders, 16 fixed poses]({sheet})", "", END]
    return "\n".join(lines)


def write_section(doc: Path, section: str, start: str = START, end: str = END) -> None:
    """Replace the text from ``start`` to ``end`` in ``doc`` by ``section`` (which holds both
    markers), or append it when the markers are not there yet."""
    text = doc.read_text() if doc.exists() else ""
    if start in text and end in text:
        text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    doc.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.decoder_ablation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="runs/plain_cpu/model.safetensors",
                        help="trained model whose latent space the decoders train into")
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget per decoder")
    parser.add_argument("--judge", default="runs/judge/judge_64.safetensors", help="saved judge (trained if missing)")
    parser.add_argument("--judge-steps", type=int, default=JudgeConfig.steps, help="training steps of a new judge")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="also score a trained model (repeatable)")
    parser.add_argument("--out", default="runs/decoder_ablation", help="folder for the trained decoders")
    parser.add_argument("--reuse", action="store_true",
                        help="load the decoders a previous run saved in --out instead of training them again "
                             "(to add --model rows); a missing one is trained")
    parser.add_argument("--docs", default="docs", help="docs folder: results.md and img/ are written there")
    parser.add_argument("--machine", default="2 CPU cores", help="machine description for the report")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    base, _ = load_model(args.base)
    size = base.config.image_size
    judge = load_or_train_judge(Path(args.judge), JudgeConfig(image_size=size, steps=args.judge_steps))
    judge_held_out_px = render_error_px(judge)
    fixed, tests = gesture_batch(size), test_batches(size, 256, 12345)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    scores, rows = [], [("render", fixed.image)]
    for variant in VARIANTS:
        saved = Path(args.out) / variant.file_name
        if args.reuse and saved.exists():
            model, meta = load_model(saved)
            steps = meta.step
        else:
            print(f"training {variant.name} for {args.minutes:g} min", file=sys.stderr, flush=True)
            model = decoder_variant(base, variant)
            steps = train_decoder(model, args.minutes, 32, 1e-3, seed=3, pose_cycle=variant.pose_cycle,
                                  cycle_low_pass=variant.cycle_low_pass)
            save_model(saved, model, step=steps)
        scores.append(score(variant.name, steps, model, judge, fixed, tests))
        rows.append((variant.name, synthesize_from_labels(model, fixed)))
        print(f"  {scores[-1]}", file=sys.stderr, flush=True)
    for item in args.model:
        name, _, path = item.partition("=")
        model, meta = load_model(path)
        scores.append(score(name, meta.step, model, judge, fixed, tests))
        rows.append((name, synthesize_from_labels(model, fixed)))
    docs = Path(args.docs)
    sheet = contact_sheet(rows, docs / "img" / "decoder_ablation.png")
    write_section(docs / "results.md", markdown(scores, args.minutes, "img/decoder_ablation.png", judge.config,
                                                judge_held_out_px, args.machine))
    for s in scores:
        print(f"{s.name}: steps {s.steps}, hand L1 {s.hand_l1:.4f}, judge renders {s.judge_renders_px:.2f} px, "
              f"syntheses {s.judge_syntheses_px:.2f} px ({s.ratio:.2f}x)")
    print(f"contact sheet: {sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
