"""The photo estimate's speed: ``photo_fit_s_p50``, p50 wall seconds of
``core.photo_estimate.estimate_in_box`` for one hand with 21 landmarks (the image encoder's
estimate and posterior of the crop, then ``core.landmark_fit.fit_landmarks`` at its default
settings), with the bundled model (a random crop, landmarks of gesture poses projected as the fit
projects them; MediaPipe's own ~20-30 ms per read is not included). Target: <= 0.3 s on 2 CPU
cores. A table-only row gives the CPU time of the calling thread.
"""
from __future__ import annotations

import numpy as np
import torch

from core.api import DEFAULT_MODEL_PATH, HandModel
from core.finder.boxes import MEDIAPIPE, Detection, keypoint_box
from core.hand.gestures import GESTURES, gesture_angles
from core.hand.kinematics import forward_kinematics, mean_hand_shape
from core.landmark_fit import project
from core.photo_estimate import estimate_in_box
from train.bench import BenchRow
from train.bench.model import latency_ms


def _detections() -> list[Detection]:
    """MediaPipe-like detections of every gesture, turned, in a 320 x 240 photo's pixels."""
    shape = mean_hand_shape(1).to("cpu", torch.float64)
    found = []
    for i, gesture in enumerate(GESTURES):
        angles = gesture_angles(gesture, 1, mean_hand_shape(1)).to(torch.float64)
        joints, _ = forward_kinematics(angles, shape)
        turn = torch.linalg.matrix_exp(torch.tensor([[0.0, -0.3, 0.5], [0.3, 0.0, -0.2 * i], [-0.5, 0.2 * i, 0.0]],
                                                    dtype=torch.float64))
        points = project(joints @ turn.T, 500.0)[0].numpy() * 500.0 + np.array([160.0, 120.0])
        found.append(Detection(keypoint_box(points), 1.0, False, 1.0, MEDIAPIPE, points))
    return found


def run(quick: bool = False) -> list[BenchRow]:
    if not DEFAULT_MODEL_PATH.exists():
        return []
    model = HandModel.load()
    photo = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    found = _detections()
    state = {"i": 0}

    def one() -> None:
        det = found[state["i"] % len(found)]
        state["i"] += 1
        estimate_in_box(model, photo, det.box, detection=det)

    wall, cpu = latency_ms(one, repeats=5 if quick else 3 * len(found), warmup=2)
    return [BenchRow("photo estimate with landmarks (encoder + fit), one hand, p50", wall / 1000.0, "s",
                     "photo_fit_s_p50"),
            BenchRow("photo estimate with landmarks, CPU time of the calling thread, p50", cpu / 1000.0, "s")]
