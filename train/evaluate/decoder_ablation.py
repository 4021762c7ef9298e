"""Equal-budget ablation of the image decoder on the CPU: pose fidelity, grid and hand L1 of syntheses.

``python -m train.evaluate.decoder_ablation --minutes 10`` trains decoders for the same CPU budget on the
same synthetic stream: at the base model's size the paper's plain decoder, the pose-guided
decoder, the pose-guided decoder without compositing, with the pose cycle
(``DisentangleConfig.pose_cycle``) and with the transposed convolutions of configs before version
3; with ``--size 128`` (a decoder that synthesises larger images than the base model's encoders
read, ``DVAEConfig.decoder_image_size``) the pose-guided decoder with resize- and with transposed
convolutions only. Each is saved in ``--out``,
and ``--reuse`` loads them instead of training them again. Each is trained into the latent space
of one trained model (``--base``: its label networks and image encoder, frozen), so the decoders
alone differ. Each is then measured (``train.evaluate.synthesis_quality``):

- the L1 error on the hand pixels of a fixed synthetic test set (syntheses from the labels);
- pose fidelity: a 2D keypoint judge trained on renders only (``train.evaluate.judge``, at ``--judge-size``)
  reads the pose back from syntheses of 28 fixed poses (7 gestures in 4 views); its error there
  next to its error on the renders of the same poses;
- the grid: the syntheses' spectral power at the decoder's periods over the renders';

and drawn in a contact sheet: the 28 fixed poses, render / each decoder. ``--model NAME=PATH``
adds rows for trained models (e.g. the bundled one). The section between the markers in
``docs/results.md`` is rewritten with the table and the sheet.
"""
from __future__ import annotations

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
from core.cli_args import Parser, count, float_range, int_range
from core.data.sample import HandBatch
from core.data.synthetic import SyntheticBatchSource, SyntheticConfig, SyntheticRenderer
from core.hand.gestures import Gesture, gesture_angles
from core.models import DVAE, DisentangleConfig, DisentangleObjective
from core.render.camera import CameraParams
from core.render.scene import sample_scene
from train.doc_sections import markers, write_section
from train.experiments.probe import synthesize_from_labels
from train.evaluate.judge import JudgeConfig, KeypointJudge, load_or_train_judge, render_error_px
from train.evaluate.synthesis_quality import SynthesisScores, score_decoder
from train.sheets import pose_sheet, to_tiles
from core.precision import cpu_has_bf16

START, END = markers("decoder-ablation")
# open and curled hands, fingers in front of one another: what a decoder must draw
GESTURES = (Gesture.OPEN, Gesture.FIST, Gesture.PINCH, Gesture.POINT, Gesture.THUMBS_UP, Gesture.CALL,
            Gesture.VICTORY)


@dataclass(frozen=True)
class Variant:
    """One decoder of the ablation."""

    name: str
    pose_maps: bool
    compositing: bool
    pose_cycle: float = 0.0  # ``DisentangleConfig.pose_cycle``
    cycle_low_pass: bool = True  # ``DisentangleConfig.pose_cycle_low_pass``
    resize_conv: bool = True  # ``DVAEConfig.decoder_resize_conv``

    @property
    def file_name(self) -> str:
        """The variant's trained model in ``--out``: its name in lower case, words joined by "_"."""
        return "_".join("".join(c if c.isalnum() else " " for c in self.name.lower()).split()) + ".safetensors"


POSE_GUIDED = Variant("pose-guided", True, True)
TRANSPOSED = Variant("pose-guided, transposed convs", True, True, resize_conv=False)
# at a larger output than the base model's, only the upsampling is compared (each variant costs
# its budget again, and 128 px steps cost about 3x the 64 px ones)
VARIANTS = (Variant("plain (paper)", False, False), POSE_GUIDED, TRANSPOSED,
            Variant("pose-guided, no compositing", True, False),
            Variant("pose-guided + pose cycle 0.5", True, True, pose_cycle=0.5, cycle_low_pass=False))


@dataclass
class Scores:
    """A decoder's name, training steps and measurements."""

    name: str
    steps: int
    size: int                 # its syntheses' side, px
    quality: SynthesisScores


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
    """28 fixed poses: 4 views x ``GESTURES`` (view-major), right hands, framed at the mean (fill
    0.75, centred)."""
    n = 4 * len(GESTURES)
    return render_poses(size, torch.cat([gesture_angles(g) for _ in range(4) for g in GESTURES]),
                        torch.stack([v for v in _views() for _ in GESTURES]), list(range(n)), seed)


def test_batches(size: int, count: int, seed: int) -> list[HandBatch]:
    source = SyntheticBatchSource(SyntheticConfig.at_size(size), seed=seed, batch_size=min(64, count))
    return [next(source) for _ in range(max(1, count // source.batch_size))]


# Decoder widths for a larger output than the base model's image size: one stage per doubling,
# narrow at the fine end (configs/bundled/09_decoder_128.toml's)
WIDTHS_128 = (192, 128, 96, 64, 32, 24)


def decoder_variant(base: DVAE, variant: Variant, size: int = 0) -> DVAE:
    """A model with ``base``'s label networks and image encoder and a fresh decoder whose
    syntheses are ``size`` px (0: the base's image size)."""
    larger = size and size != base.config.image_size
    config = dataclasses.replace(base.config, decoder_pose_maps=variant.pose_maps,
                                 decoder_compositing=variant.compositing, decoder_resize_conv=variant.resize_conv,
                                 decoder_image_size=size if larger else 0,
                                 decoder_widths=WIDTHS_128 if larger else base.config.decoder_widths,
                                 decoder_residual_upto=64 if larger else base.config.decoder_residual_upto)
    model = DVAE(config)
    for name, module in base.named_children():
        if name != "image_decoder":
            getattr(model, name).load_state_dict(module.state_dict())
    return model


def train_decoder(model: DVAE, minutes: float, batch_size: int, lr: float, seed: int, pose_cycle: float = 0.0,
                  cycle_low_pass: bool = True, steps: int = 0, bf16: bool = True) -> int:
    """Train only the image decoder for ``minutes`` of wall clock on all torch threads, or for
    ``steps`` steps when > 0 (cosine rate over the budget); returns the steps taken. ``bf16``:
    bfloat16 autocast where the CPU has it natively, as the recipe trains (``[trainer] cpu_bf16``).

    The budget is counted in this process's CPU time (minutes x 60 x torch threads), which equals
    the wall clock on an idle machine and stays fair to every decoder when other work shares it."""
    objective = DisentangleObjective(DisentangleConfig(label_networks_lr_scale=0.0, image_encoder_lr_scale=0.0,
                                                       pose_cycle=pose_cycle, pose_cycle_low_pass=cycle_low_pass))
    optimizer = torch.optim.AdamW(objective.param_groups(model, lr))
    source = SyntheticBatchSource(SyntheticConfig.at_size(model.config.output_size), seed=seed, batch_size=batch_size)
    bf16 = bf16 and cpu_has_bf16()
    budget = minutes * 60.0 * torch.get_num_threads()
    start, last_log, step = time.process_time(), time.monotonic(), 0
    model.train()
    while (step < steps) if steps > 0 else ((elapsed := time.process_time() - start) < budget):
        fraction = step / steps if steps > 0 else elapsed / budget
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * fraction)))
        batch = next(source)  # rendered outside autocast (the renderer computes in float32)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            terms = objective(model, batch)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        step += 1
        if time.monotonic() - last_log > 60:
            last_log = time.monotonic()
            left = f"{steps - step} steps" if steps > 0 else f"{(budget - elapsed) / 60:.1f} CPU-min"
            print(f"  step {step}, image {terms['image'].item():.4f}, {left} left", file=sys.stderr, flush=True)
    return step


def contact_sheet(rows: list[tuple[str, torch.Tensor]], path: Path, tile: int = 72) -> Path:
    """One row per source (name, (N, 3, S, S)), the N fixed poses across, a label column on the left."""
    label_w = 200
    lines = []
    for name, images in rows:
        label = np.full((tile, label_w, 3), 255, np.uint8)
        cv2.putText(label, name, (6, tile // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        resample = cv2.INTER_AREA if images.shape[-1] > tile else cv2.INTER_NEAREST
        lines.append(np.hstack([label] + to_tiles(images, tile, resample)))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(lines))
    return path


def markdown(scores: list[Scores], minutes: float, size: int, sheet: str, judge: JudgeConfig,
             judge_held_out_px: float, machine: str, trained: bool = True) -> str:
    periods = sorted({p for s in scores for p in s.quality.grid})
    if trained:
        command = f"`python -m train.evaluate.decoder_ablation --minutes {minutes:g} --size {size}` ({machine}): each decoder " \
                  f"trained for {minutes:g} min on {torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''} (counted as process CPU time) " \
                  f"into the same trained latent space (label networks and image encoder frozen), batch 32 of {size} " \
                  "px renders."
    else:
        command = f"`python -m train.evaluate.decoder_ablation --size {size} --skip-variants --model ...` ({machine}): " \
                  "trained models only."
    lines = [START, "## Image decoders at an equal CPU budget", "",
             command + " Hand L1: mean absolute error over hand pixels of 256 test syntheses (from their labels), at "
             "each decoder's size. Judge: a 2D "
             f"keypoint network trained on {judge.steps * judge.batch_size:,} renders only (`train.evaluate.judge`), "
             f"reading 28 fixed poses (7 gestures x 4 views) from their renders and from each decoder's syntheses, "
             f"both at its {judge.image_size} px; ratio = syntheses / renders (1 = read as well as the renders). "
             f"The judge reads 256 held-out renders at {judge_held_out_px:.2f} px mean 2D error "
             f"({judge_held_out_px * size / judge.image_size:.1f} px in {size} px crops). Grid: the "
             "syntheses' spectral power over the renders' at each period a decoder stage could draw a grid at "
             "(largest of x, y, diagonal; 1 = as the renders; the worst period in the table). Transfer keeps: "
             "how much of photo A's mean hand and background colours a pose transfer keeps, 1 - (distance to A's "
             "colours) / (distance when the content comes from another image), over 64 test renders.", "",
             "| decoder | px | steps | hand L1 | judge on renders (px) | judge on syntheses (px) | ratio | grid | "
             "transfer keeps |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in scores:
        q = s.quality
        worst = max(q.grid, key=q.grid.get)
        lines.append(f"| {s.name} | {s.size} | {s.steps:,} | {q.hand_l1:.3f} | {q.judge_renders_px:.2f} | "
                     f"{q.judge_syntheses_px:.2f} | {q.ratio:.2f}x | {q.grid[worst]:.1f}x at {worst} px | "
                     f"{q.transfer.kept_share:.2f} |")
    lines += ["", "Grid by period (px of each decoder's output):", "",
              "| decoder | " + " | ".join(f"{p} px" for p in periods) + " |",
              "|---|" + "---|" * len(periods)]
    for s in scores:
        lines.append(f"| {s.name} | " + " | ".join(
            f"{s.quality.grid[p]:.2f}x" if p in s.quality.grid else "" for p in periods) + " |")
    lines += ["", f"![render / decoders, 28 fixed poses]({sheet})", "", END]
    return "\n".join(lines)


class Measure:
    """The fixed poses and test renders at each output size, and the judge, for ``score``."""

    def __init__(self, judge: KeypointJudge) -> None:
        self.judge = judge
        self.judge_fixed = gesture_batch(judge.config.image_size)
        self._at: dict[int, tuple[HandBatch, list[HandBatch]]] = {}

    def __call__(self, name: str, steps: int, model: DVAE) -> tuple[Scores, torch.Tensor]:
        """``model``'s scores and its syntheses of the fixed poses (28, 3, S, S)."""
        size = model.config.output_size
        if size not in self._at:
            self._at[size] = gesture_batch(size), test_batches(size, 256, 12345)
        fixed, tests = self._at[size]
        scores = Scores(name, steps, size, score_decoder(model, self.judge, fixed, self.judge_fixed, tests))
        with torch.no_grad():
            return scores, synthesize_from_labels(model.eval(), fixed)


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m train.evaluate.decoder_ablation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="runs/bundled/02_plain_more_embedding/model.safetensors",
                        help="trained model whose latent space the decoders train into")
    parser.add_argument("--minutes", type=float_range(0, 7 * 24 * 60, "minutes", low_open=True), default=10.0, help="wall-clock budget per decoder")
    parser.add_argument("--size", type=int_range(0, 1024, "pixels"), default=0,
                        help="the decoders' output size, px (default: the base model's image size; larger: "
                             "the pose-guided decoder with resize- and with transposed convolutions only)")
    parser.add_argument("--judge", default="", help="saved judge (trained if missing; default "
                                                    "runs/judge/judge_SIZE.safetensors)")
    parser.add_argument("--judge-size", type=int_range(16, 1024, "pixels"), default=64,
                        help="the judge's crop size, px (larger syntheses are area-resampled for it)")
    parser.add_argument("--judge-steps", type=count(10_000_000), default=JudgeConfig.steps, help="training steps of a new judge")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="also score a trained model (repeatable)")
    parser.add_argument("--out", default="runs/decoder_ablation", help="folder for the trained decoders")
    parser.add_argument("--reuse", action="store_true",
                        help="load the decoders a previous run saved in --out instead of training them again "
                             "(to add --model rows); a missing one is trained")
    parser.add_argument("--skip-variants", action="store_true", help="score only the --model rows")
    parser.add_argument("--bf16-check", type=int_range(0, 10_000_000), default=0, metavar="STEPS",
                        help="also train the pose-guided decoder STEPS steps in float32 and STEPS steps in "
                             "bfloat16 (where the CPU has it) and score both: what bf16 training costs in quality")
    parser.add_argument("--docs", default="runs/decoder_ablation/report",
                        help="folder whose results.md (its section) and img/ are written (the project's report: "
                             "--docs docs)")
    parser.add_argument("--pose-sheets", action="store_true",
                        help="also write, for each --model, img/pose_sheet_NAME.png in --docs: the 7 gestures in "
                             "4 views, render next to synthesis")
    parser.add_argument("--machine", default="2 CPU cores", help="machine description for the report")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    base, _ = load_model(args.base)
    size = args.size or base.config.image_size
    judge_path = Path(args.judge or f"runs/judge/judge_{args.judge_size}.safetensors")
    judge = load_or_train_judge(judge_path, JudgeConfig(image_size=args.judge_size, steps=args.judge_steps,
                                                        bf16=True))
    judge_held_out_px = render_error_px(judge)
    measure = Measure(judge)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    scores, rows = [], [("render", gesture_batch(size).image)]
    variants = [] if args.skip_variants else [v for v in VARIANTS if size == base.config.image_size
                                              or v in (POSE_GUIDED, TRANSPOSED)]
    for variant in variants:
        saved = Path(args.out) / ((f"{size}_" if size != base.config.image_size else "") + variant.file_name)
        if args.reuse and saved.exists():
            model, meta = load_model(saved)
            steps = meta.step
        else:
            print(f"training {variant.name} for {args.minutes:g} min", file=sys.stderr, flush=True)
            model = decoder_variant(base, variant, size)
            steps = train_decoder(model, args.minutes, 32, 1e-3, seed=3, pose_cycle=variant.pose_cycle,
                                  cycle_low_pass=variant.cycle_low_pass)
            save_model(saved, model, step=steps)
        result, synth = measure(variant.name, steps, model)
        scores.append(result)
        rows.append((variant.name, synth))
        print(f"  {result}", file=sys.stderr, flush=True)
    if args.bf16_check > 0:
        for bf16 in (False, True) if cpu_has_bf16() else (False,):
            name = f"pose-guided, {args.bf16_check:,} steps, {'bfloat16' if bf16 else 'float32'}"
            saved = Path(args.out) / f"{size}_precision_{'bf16' if bf16 else 'fp32'}_{args.bf16_check}.safetensors"
            if args.reuse and saved.exists():
                model, _ = load_model(saved)
            else:
                print(f"training {name}", file=sys.stderr, flush=True)
                model = decoder_variant(base, POSE_GUIDED, size)
                train_decoder(model, 0.0, 32, 1e-3, seed=3, steps=args.bf16_check, bf16=bf16)
                save_model(saved, model, step=args.bf16_check)
            result, synth = measure(name, args.bf16_check, model)
            scores.append(result)
            rows.append((name, synth))
    for item in args.model:
        name, _, path = item.partition("=")
        model, meta = load_model(path)
        result, synth = measure(name, meta.step, model)
        scores.append(result)
        rows.append((name, synth))
        if args.pose_sheets:
            file_name = "pose_sheet_" + Variant(name, True, True).file_name.replace(".safetensors", ".png")
            sheet_path = Path(args.docs) / "img" / file_name
            sheet_path.parent.mkdir(parents=True, exist_ok=True)
            fixed = gesture_batch(model.config.output_size)
            cv2.imwrite(str(sheet_path), pose_sheet(fixed.image, synth, [g.value.name for g in GESTURES], 4))
            print(f"pose sheet: {sheet_path}", file=sys.stderr)
    docs = Path(args.docs)
    sheet = contact_sheet(rows, docs / "img" / "decoder_ablation.png")
    write_section(docs / "results.md", markdown(scores, args.minutes, size, "img/decoder_ablation.png", judge.config,
                                                judge_held_out_px, args.machine, trained=bool(variants)), START, END)
    for s in scores:
        q = s.quality
        print(f"{s.name}: {s.size} px, steps {s.steps}, hand L1 {q.hand_l1:.4f}, judge renders "
              f"{q.judge_renders_px:.2f} px, syntheses {q.judge_syntheses_px:.2f} px ({q.ratio:.2f}x), "
              f"grid {q.worst_grid:.2f}x, transfer keeps {q.transfer.kept_share:.2f} ({q.transfer})")
    print(f"contact sheet: {sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
