"""The app's photo estimate as ``train.evaluate.synthetic --estimator fit`` runs it on a dataset.

Each sample is cut from its dataset image at ``READ_SIZE`` px showing ``CONTEXT`` times the
protocol's crop around the hand (the photo around it, black past its border; renders of the
synthetic test set have no photo around them, so they are read at ``READ_SIZE`` and padded black),
so MediaPipe reads the hand at about the image's own resolution instead of the model's 64 px
re-crop. ``core.photo_estimate.estimate_in_box`` then estimates the protocol's crop box: the pose
prior fitted to MediaPipe's landmarks found in it, or the image encoder where MediaPipe finds
no hand, so every sample gets a prediction. The crop camera turns to look through the hand's box
centre whatever the crop's size, so the predictions are in the protocol's crop frame.
"""
from __future__ import annotations

import numpy as np
import torch

from core.api import HandModel
from core.landmark_fit import LandmarkFitConfig
from core.photo_estimate import LANDMARKS, ReadsBoxes, estimate_in_box

READ_SIZE = 256  # px: side of the cut MediaPipe reads
CONTEXT = 2.0    # that cut's side / the protocol's crop side, where the dataset has a photo around the hand


class LandmarkFitEstimator:
    """A ``core.baselines.PoseEstimator`` over wide cuts (B, 3, READ_SIZE, READ_SIZE): the
    protocol's crop is their central 1 / ``context`` (``context`` 1: the whole cut).
    ``fitted`` / ``encoder_only`` count the samples of each evidence so far."""

    def __init__(self, model: HandModel, reader: ReadsBoxes | None, context: float = CONTEXT,
                 config: LandmarkFitConfig = LandmarkFitConfig()) -> None:
        self.model, self.reader, self.context, self.config = model, reader, context, config
        self.fitted = self.encoder_only = 0

    @property
    def image_size(self) -> int:
        return READ_SIZE

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, S, S) float RGB in [0, 1] -> (B, 21, 3) mm, wrist at 0, crop-camera frame."""
        out = []
        for image in images:
            photo = (image.permute(1, 2, 0).clamp(0, 1).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
            size = photo.shape[0]
            side = size / self.context
            low = 0.5 * (size - side) - 0.5
            est = estimate_in_box(self.model, photo, (low, low, low + side, low + side), reader=self.reader,
                                  config=self.config)
            if est.evidence == LANDMARKS:
                self.fitted += 1
            else:
                self.encoder_only += 1
            out.append(torch.from_numpy(np.asarray(est.keypoints_3d, np.float32)))
        return torch.stack(out)

    def summary(self) -> str:
        """How many samples each evidence estimated, in words."""
        total = self.fitted + self.encoder_only
        return (f"estimator fit: {self.fitted} of {total} samples fitted to MediaPipe's landmarks, "
                f"{self.encoder_only} by the image encoder alone (MediaPipe found no hand)")
