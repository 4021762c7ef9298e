"""Export poses for image-generation pipelines, and import OpenPose hands, from the command line.

    python -m train.pose_export export --pose pose.json [more.json ...] --out DIR [--size 512]
    python -m train.pose_export import --openpose hand_openpose.json --out pose.json

``export`` reads pose JSON files (File > Save pose writes them: 21 joints, mm, camera frame) and
writes, per pose, ``DIR/NAME_openpose.json``, ``_skeleton.png``, ``_depth.png``, ``_mask.png``
and ``_image.png`` (NAME = the pose file's name without .json; see ``core.export.bundle``).
The synthesised image uses ``--checkpoint`` (default: the bundled model) with the content
block at the prior mean, or drawn with ``--content-seed``; ``--no-image`` skips the model.

``import`` lifts the first hand of an OpenPose JSON file to 3D (dVAE pose prior + inverse
kinematics, ``core.export.lift``) and writes it as a pose JSON the app opens (File > Load pose).

Exit status 0 on success, 2 when an input cannot be used (the message says why).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from core.api import HandModel
from core.checkpoint import CheckpointError
from core.cli_args import Parser, float_range, int_range, seed
from core.export.bundle import export_pose
from core.export.lift import lift_to_3d
from core.export.maps import FramingConfig, PosedHand
from core.export.openpose import OpenPoseFormatError, read_openpose_json
from core.export.pose_file import load_pose_json, save_pose_json
from core.models.config import CONTENT


# FramingConfig's bounds (canvas 16..4096 px, camera beyond 100 mm), checked before any work; a
# camera 100 m away already draws the hand as an orthographic projection would.
CANVAS_SIDES = (16, 4096)
DISTANCES_MM = (100.0, 100_000.0)


class UsageError(Exception):
    """An input the command cannot use; printed as ``error: ...`` with exit status 2."""


def _load_model(checkpoint: str) -> HandModel:
    try:
        return HandModel.load(None if checkpoint == "default" else checkpoint)
    except (FileNotFoundError, CheckpointError, OSError, ValueError, RuntimeError) as err:
        raise UsageError(f"cannot load the model {checkpoint!r}: {err}") from err


def _content(model: HandModel, seed: int | None) -> np.ndarray | None:
    """None (prior mean) or a content block (1, d) drawn from the prior with ``seed``."""
    if seed is None:
        return None
    return np.random.default_rng(seed).standard_normal((1, model.layout.size(CONTENT))).astype(np.float32)


def run_export(args: argparse.Namespace) -> None:
    framing = FramingConfig(size=args.size, distance_mm=args.distance)
    model = None if args.no_image else _load_model(args.checkpoint)
    for pose_path in args.pose:
        try:
            keypoints, is_left = load_pose_json(pose_path)
        except ValueError as err:
            raise UsageError(str(err)) from err
        hand = PosedHand.from_keypoints(keypoints, is_left)
        image = None
        if model is not None:
            image = model.synthesize(hand.keypoints()[None], is_left, content=_content(model, args.content_seed))[0]
        name = Path(pose_path).name.removesuffix(".json")
        exported = export_pose(hand, Path(args.out) / name, framing, image)
        print(f"{pose_path}: " + ", ".join(str(p) for p in exported.files.values()))


def run_import(args: argparse.Namespace) -> None:
    try:
        hand2d = read_openpose_json(args.openpose)
    except OpenPoseFormatError as err:
        raise UsageError(str(err)) from err
    model = _load_model(args.checkpoint)
    result = lift_to_3d(hand2d, model, FramingConfig(distance_mm=args.distance))
    save_pose_json(args.out, result.hand.keypoints(), result.hand.is_left)
    side = "left" if hand2d.is_left else "right"
    print(f"{args.openpose}: {side} hand lifted to 3D, mean 2D error {result.mean_error_px:.2f} px "
          f"(canvas {hand2d.canvas_wh[0]} x {hand2d.canvas_wh[1]}); wrote {args.out}")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m train.pose_export", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="pose JSON -> OpenPose JSON, skeleton, depth, mask, image")
    export.add_argument("--pose", nargs="+", required=True, help="pose JSON file(s) (File > Save pose)")
    export.add_argument("--out", required=True, type=Path, help="output folder (created)")
    export.add_argument("--size", type=int_range(*CANVAS_SIDES, "pixels"), default=FramingConfig.size, help="canvas side in pixels (default 512)")
    export.add_argument("--checkpoint", default="default", help="model for the image: 'default' or a file")
    export.add_argument("--content-seed", type=seed, help="draw the image's content block with this seed")
    export.add_argument("--no-image", action="store_true", help="skip the synthesised image (no model needed)")
    imp = commands.add_parser("import", help="OpenPose JSON hand -> 3D pose JSON")
    imp.add_argument("--openpose", required=True, type=Path, help="OpenPose JSON file with a hand")
    imp.add_argument("--out", required=True, type=Path, help="pose JSON to write")
    imp.add_argument("--checkpoint", default="default", help="model whose pose prior is used: 'default' or a file")
    for sub in (export, imp):
        sub.add_argument("--distance", type=float_range(*DISTANCES_MM, "mm", low_open=True), default=FramingConfig.distance_mm,
                         help="camera distance in mm (perspective; default 500)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "export":
            run_export(args)
        else:
            run_import(args)
    except (UsageError, OSError, ValueError) as err:  # ValueError: e.g. a canvas size out of range
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
