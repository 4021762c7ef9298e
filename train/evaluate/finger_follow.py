"""The README's figure of syntheses following the fingers: ``python -m train.evaluate.finger_follow``.

One content (a plain background, neutral appearance) and one view (palm to the camera, fingers
up); the pose changes finger by finger from an open hand to a fist. Top row: the syntheses;
bottom row: the same with the requested 2D skeleton (framed as the decoder frames it) drawn on
them. What to look for: each finger the pose curls is curled in the picture, the others stay up.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import torch

from core.api import HandModel
from core.cli_args import Parser
from core.hand.gestures import CURLED, Gesture, GesturePreset, preset_angles
from core.hand.limits import clamp_angles
from core.models.pose_maps import frame_keypoints
from core.render.overlay import draw_skeleton
from train.evaluate.decoder_ablation import palm_view, render_poses

OPEN = Gesture.OPEN.value
STEPS: tuple[GesturePreset, ...] = (
    OPEN,
    dataclasses.replace(OPEN, name="index curled", fingers_deg=(CURLED,) + OPEN.fingers_deg[1:]),
    dataclasses.replace(OPEN, name="index+middle", fingers_deg=(CURLED, CURLED) + OPEN.fingers_deg[2:]),
    dataclasses.replace(OPEN, name="ring+little", fingers_deg=OPEN.fingers_deg[:2] + (CURLED, CURLED)),
    Gesture.VICTORY.value,
    Gesture.FIST.value,
)
BACKGROUND_RGB = (110, 130, 190)  # a plain blue-grey: the hand's outline is what is judged


def requested_keypoints(size: int) -> torch.Tensor:
    """Camera-frame 3D keypoints (len(STEPS), 21, 3) mm of the steps: right hands, palm view."""
    n = len(STEPS)
    angles = clamp_angles(torch.stack([preset_angles(p) for p in STEPS]))
    # index 0 for every step: one hand shape throughout
    return render_poses(size, angles, palm_view().expand(n, 3, 3).clone(), [0] * n, seed=0).keypoints_3d


def figure(model: HandModel, tile: int = 192) -> np.ndarray:
    """The figure (2 * tile, len(STEPS) * tile, 3) uint8 RGB."""
    size = model.config.output_size  # the syntheses' side
    keypoints = requested_keypoints(size)
    background = np.empty((size, size, 3), np.uint8)
    background[:] = BACKGROUND_RGB
    images = model.synthesize(keypoints.numpy(), is_left=False, content=background)
    uv, _ = frame_keypoints(keypoints - keypoints[:, :1], size)
    top, bottom = [], []
    for image, points, preset in zip(images, uv.numpy(), STEPS):
        big = cv2.resize(image, (tile, tile), interpolation=cv2.INTER_CUBIC)
        top.append(big)
        drawn = draw_skeleton(big, (points + 0.5) * tile / size - 0.5, radius=3, thickness=3)
        cv2.putText(drawn, preset.name, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        bottom.append(drawn)
    return np.vstack([np.hstack(top), np.hstack(bottom)])


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m train.evaluate.finger_follow", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="default", help="model file, or 'default' for the bundled model")
    parser.add_argument("--out", default="runs/finger_follow.png",
                        help="PNG to write (default runs/finger_follow.png; the README's is docs/img/finger_follow.png)")
    args = parser.parse_args(argv)
    model = HandModel.load(None if args.checkpoint == "default" else args.checkpoint)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(figure(model), cv2.COLOR_RGB2BGR))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
