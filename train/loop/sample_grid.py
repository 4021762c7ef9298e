"""The dVAE's sample grid (what ``SampleGrid`` writes at each evaluation), drawn with OpenCV.

Rows, one column per evaluation sample (the grid's fixed batch):
  input | reconstruction x -> z -> x | synthesis from the labels y -> z -> x |
  pose estimate (green, decoded from the image, placed at the true wrist) over the input with the
  ground truth (white) | pose walk: z_pose interpolated from sample 0 to sample 1, content of 0.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from core.data.sample import HandBatch
from core.hand.joints import BONES, WRIST
from core.models.config import POSE
from core.models.dvae import DVAE
from core.models.geometry import project
from core.models.objectives import LabelTargets
from train.sheets import dark_labelled_rows, to_tiles

ROW_NAMES = ("input", "reconstruction", "from labels", "pose (green) vs truth", "pose walk 0->1")

TRUTH_BGR, ESTIMATE_BGR = (255, 255, 255), (60, 220, 60)


def draw_skeleton(tile: np.ndarray, points: np.ndarray, colour: tuple[int, int, int], thickness: int) -> None:
    """Draw bones of (21, 2) tile-pixel points onto ``tile`` in place."""
    pts = np.round(points).astype(np.int32)
    for parent, child in BONES:
        cv2.line(tile, tuple(map(int, pts[parent])), tuple(map(int, pts[child])), colour, thickness, cv2.LINE_AA)
    cv2.circle(tile, tuple(map(int, pts[WRIST])), thickness + 1, colour, -1, cv2.LINE_AA)


def label_latent(model: DVAE, batch: HandBatch, image_mu: torch.Tensor) -> torch.Tensor:
    """z (B, D) from the batch's labels (``DVAE.latent_from_labels``): pose and viewpoint from the
    label encoders, content from the content tag where a row has one; every other block (and
    content without a tag) from ``image_mu`` (B, D), the image posterior's mean."""
    targets = LabelTargets.from_batch(batch)
    return model.latent_from_labels(targets.canonical_pose, targets.rotation_6d, batch.is_left.bool(),
                                    content=model.content_posterior(batch.content, batch.appearance).mu,
                                    has_content=batch.has_content, rest=image_mu)


def pose_overlay(model: DVAE, batch: HandBatch, image_mu: torch.Tensor, tiles: list[np.ndarray]) -> list[np.ndarray]:
    """Input tiles with the decoded 3D pose projected (placed at the true wrist) and the truth."""
    targets = LabelTargets.from_batch(batch)
    decoded = model.decode_labels(image_mu)
    wrist = batch.keypoints_3d[:, WRIST:WRIST + 1]
    estimate = project(decoded.pose_3d(targets.scale, batch.is_left.bool()) + wrist, batch.K, min_depth=1.0)
    scale = tiles[0].shape[0] / batch.image.shape[-1]
    out = []
    for i, tile in enumerate(tiles):
        tile = tile.copy()
        if bool(batch.has_2d[i]):
            draw_skeleton(tile, batch.keypoints_2d[i].cpu().numpy() * scale, TRUTH_BGR, 1)
        if bool(batch.has_3d[i]):
            draw_skeleton(tile, estimate[i].detach().float().cpu().numpy() * scale, ESTIMATE_BGR, 2)
        out.append(tile)
    return out


def pose_walk(model: DVAE, image_mu: torch.Tensor, columns: int) -> torch.Tensor:
    """Decode z with z_pose going linearly from sample 0's to sample 1's, the rest of sample 0."""
    return model.decode_image(model.walk_block(image_mu[0], image_mu[min(1, len(image_mu) - 1)], POSE, columns))


class DVAEGrid:
    """``SampleGrid`` renderer for a ``DVAE``: call with the model -> (H, W, 3) uint8 BGR.

    ``batch`` is the fixed evaluation batch (B columns); ``tile`` the tile side in pixels.
    """

    def __init__(self, batch: HandBatch, tile: int = 96) -> None:
        self.batch, self.tile = batch, tile

    @torch.no_grad()
    def __call__(self, model: DVAE) -> np.ndarray:
        device = next(model.parameters()).device
        batch = self.batch.to(device)
        image_mu = model.image_posterior(batch.image).mu
        inputs = to_tiles(batch.image, self.tile)
        rows = [
            inputs,
            to_tiles(model.decode_image(image_mu), self.tile),
            to_tiles(model.decode_image(label_latent(model, batch, image_mu)), self.tile),
            pose_overlay(model, batch, image_mu, inputs),
            to_tiles(pose_walk(model, image_mu, batch.batch_size), self.tile),
        ]
        return dark_labelled_rows(rows, ROW_NAMES, self.tile)
