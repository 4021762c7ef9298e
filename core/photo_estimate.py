"""The 3D hand in a box of a photo: the pose prior fitted to MediaPipe's landmarks where there are
any, the image encoder alone where there are none. What the app's photo panel and
``python -m train.evaluate --estimator fit`` estimate with.

Evidence, best first:

1. ``LANDMARKS``: MediaPipe Hands' 21 image landmarks of the hand, from the detection that framed
   it (``Detection.landmarks``) or read in the box (``MediaPipeHands.find_in_box``, for a box the
   user placed or the project's finder found). ``core.landmark_fit.fit_landmarks`` fits the
   dVAE's pose prior and the kinematic hand to them, starting from the image encoder's posterior
   of the crop (q(z | x)) as well as from prior draws; per-joint confidence from the fit's
   residuals and the spread of its near-equal fits.
2. ``ENCODER``: no landmarks (MediaPipe not installed, as on Python >= 3.13, or it sees no hand in
   the box): the image encoder's estimate of the crop (``HandModel.estimate``), per-joint
   confidence exp(-spread of its posterior / 20 mm).

``PhotoHandEstimate.score`` puts the two apart: 0.5 + half the mean joint confidence with
landmarks, half of it without, so a box MediaPipe reads a hand in always scores above one it does
not. On the fixture photos MediaPipe read a hand in 21 of the 25 labelled hand boxes and in none of
72 boxes on faces, bodies, leaves and background, while the encoder's own confidence scored
those no lower than the hands (docs/results.md, "3D from a photo").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from core.api import HandModel
from core.data.crop import crop_square
from core.finder.boxes import Detection
from core.finder.mediapipe_hands import MediaPipeHands, mediapipe_available
from core.landmark_fit import SPREAD_SCALE_MM, LandmarkFitConfig, fit_landmarks

LANDMARKS, ENCODER = "landmarks", "encoder"  # PhotoHandEstimate.evidence


class ReadsBoxes(Protocol):
    """Anything that reads landmarks in a box: ``find_in_box(image (H, W, 3), box (x0, y0, x1, y1))
    -> Detection with landmarks, or None`` (``MediaPipeHands``)."""

    def find_in_box(self, image: np.ndarray, box: tuple[float, float, float, float]) -> Detection | None: ...


def default_box_reader() -> ReadsBoxes | None:
    """MediaPipe Hands where it is installed (``core.finder.mediapipe_hands``), else None."""
    return MediaPipeHands(max_hands=2) if mediapipe_available() else None


@dataclass
class PhotoHandEstimate:
    """One hand estimated in a photo box.

    keypoints_3d: (21, 3) mm, wrist at 0, the crop camera's orientation (mean-size hand).
    keypoints_2d: (21, 2) photo px: the fit's projection aligned to the landmarks (``LANDMARKS``)
        or the encoder's pose framed like a training crop in the box (``ENCODER``).
    confidence: (21,) in [0, 1] per joint (module docstring); spread_mm: (21,) the spread behind it.
    residual_px: (21,) photo px from each landmark (``LANDMARKS``; None otherwise).
    landmarks: (21, 2) photo px, MediaPipe's (None without). is_left: the side estimated.
    latent: (D,) float32: the encoder's posterior mean with its pose and viewpoint blocks set to
        the estimated pose (content and free blocks kept), for editing and synthesis.
    evidence: ``LANDMARKS`` or ``ENCODER``. found_by: which found the landmarks ("the detection",
        "read in the box") or None.
    """

    keypoints_3d: np.ndarray
    keypoints_2d: np.ndarray
    confidence: np.ndarray
    spread_mm: np.ndarray
    residual_px: np.ndarray | None
    landmarks: np.ndarray | None
    is_left: bool
    latent: np.ndarray
    evidence: str
    found_by: str | None = None

    @property
    def score(self) -> float:
        """In [0, 1], how sure the estimate is that a hand is there and posed so: with landmarks
        0.5 + half the mean joint confidence, without them half of it (module docstring)."""
        half = 0.5 * float(np.mean(self.confidence))
        return 0.5 + half if self.evidence == LANDMARKS else half

    def describe(self) -> str:
        """Which evidence the estimate is made of, in words."""
        if self.evidence == LANDMARKS:
            return ("3D pose fitted to MediaPipe's 21 landmarks (" + (self.found_by or "found") + ") with the model's "
                    "pose prior and joint limits, starting from the image encoder's reading")
        return "3D pose read from the crop by the image encoder alone (no MediaPipe landmarks)"


def _posterior_logvar(model: HandModel, crop: np.ndarray, is_left: bool) -> torch.Tensor:
    """log-variance (D,) of q(z | x) of the crop (S, S, 3) uint8, of the mirrored crop where the
    encoder reads the other side (as ``HandModel.estimate`` mirrors it); on the model's threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(model.threads or before)  # as HandModel's calls: one thread, no spinning
    try:
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float().div(255.0)
            x = x.to(model.device).contiguous(memory_format=torch.channels_last)
            q = model.model.image_posterior(x)
            if bool(model.model.decode_labels(q.mu).is_left[0]) != is_left:
                q = model.model.image_posterior(x.flip(-1))
            return q.logvar[0].cpu()
    finally:
        torch.set_num_threads(before)


def estimate_in_box(model: HandModel, photo: np.ndarray, box: tuple[float, float, float, float],
                    is_left: bool | None = None, detection: Detection | None = None,
                    reader: ReadsBoxes | None = None, config: LandmarkFitConfig = LandmarkFitConfig()
                    ) -> PhotoHandEstimate:
    """Estimate the hand in ``box`` (x0, y0, x1, y1) px, a square, of ``photo`` (H, W, 3) uint8 RGB.

    Landmarks come from ``detection`` (the MediaPipe detection that framed the box) or else from
    ``reader`` (None: none are read). The side: ``is_left`` when given, else the landmarks'
    detection's, else the model's flip-consistent reading of the crop (``HandModel.read_side``).
    """
    x0, y0, x1, _ = (float(v) for v in box)
    side = x1 - x0
    crop = crop_square(photo, (x0, y0, side), model.image_size)
    found, found_by = None, None
    if detection is not None and detection.landmarks is not None:
        found, found_by = detection, "the detection"
    elif reader is not None:
        found = reader.find_in_box(photo, (x0, y0, x0 + side, y0 + side))
        found_by = None if found is None else "read in the box"
    if is_left is None:
        is_left = found.is_left if found is not None else bool(model.read_side(crop[None], flip=True)[0] > 0.5)
    est = model.estimate(crop[None], is_left=np.array([is_left]))
    to_photo = side / model.image_size
    encoder_2d = est.keypoints_2d[0] * to_photo + np.array([x0, y0])
    if found is None:
        spread = est.uncertainty[0].astype(np.float64)
        return PhotoHandEstimate(est.keypoints_3d[0].astype(np.float64), encoder_2d, np.exp(-spread / SPREAD_SCALE_MM),
                                 spread, None, None, bool(is_left), est.latent[0], ENCODER)
    logvar = _posterior_logvar(model, crop, bool(is_left))
    fit = fit_landmarks(model.model, found.landmarks, bool(is_left),
                        posterior=(torch.from_numpy(est.latent[0]), logvar), config=config)
    latent = model.with_pose(est.latent, fit.keypoints_3d[None].astype(np.float32), np.array([is_left]))[0]
    return PhotoHandEstimate(fit.keypoints_3d, fit.keypoints_2d, fit.confidence, fit.spread_mm, fit.residual_px,
                             np.asarray(found.landmarks, np.float64), bool(is_left), latent, LANDMARKS, found_by)
