"""What a user sees in a synthesis, measured: a grid over the image, the requested fingers, the
content a pose transfer keeps. Shared by ``train.evaluate.decoder_ablation`` and ``train.evaluate.decoder_curve``.

- **Grid**: a decoder stage that upsamples r -> 2r px with a stride-2 transposed convolution
  draws a 2-px pattern at r px, which is a ``2 S / r``-px period in the S-px output. At each of
  the decoder's periods the power spectrum of its syntheses (from the labels of test renders) is
  compared with the renders' at the same frequencies, along x, along y and diagonally; the
  largest of the three ratios is the period's grid ratio (1 = as the renders, < 1 = smoother).
- **Judge**: a 2D keypoint network trained on renders only (``train.evaluate.judge``) reads the requested
  pose back from syntheses of fixed gesture poses, next to its reading of their renders, both
  resampled to the judge's own crop size.
- **Content transfer**: the pose of B on the content of A (A's content and free blocks, B's pose
  and viewpoint blocks, as ``HandModel.transfer``): how far the result's mean hand and background
  colours are from A's, next to how far they are when the content comes from a random other image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.data.sample import HandBatch
from core.models import DVAE
from core.models.config import POSE_BLOCKS
from core.models.pose_maps import frame_keypoints
from train.experiments.probe import synthesize_from_labels
from train.evaluate.judge import KeypointJudge, keypoint_error_px


def decoder_periods(size: int) -> list[int]:
    """The periods (px of an S = ``size`` output) at which upsampling stages 4 -> 8 -> ... -> S can
    draw a grid: 2, 4, ..., S / 4."""
    return [2 << k for k in range(int(math.log2(size)) - 2)]


def power_spectrum(images: torch.Tensor) -> torch.Tensor:
    """Mean power spectrum (S, S) of the luminance of images (B, 3, S, S), each image's mean
    removed and a Hann window applied (the image border is not a frequency)."""
    luma = (images.float() * images.new_tensor([0.299, 0.587, 0.114]).float()[:, None, None]).sum(1)
    luma = luma - luma.mean(dim=(-2, -1), keepdim=True)
    window = torch.hann_window(luma.shape[-1], periodic=False, dtype=luma.dtype, device=luma.device)
    spectrum = torch.fft.fft2(luma * window[:, None] * window[None, :])
    return spectrum.abs().square().mean(0)


def grid_ratios(syntheses: torch.Tensor, renders: torch.Tensor) -> dict[int, float]:
    """{period px: the syntheses' power over the renders' at that period (the largest of x, y and
    diagonal)} for images (B, 3, S, S) of the same scenes (``decoder_periods``)."""
    size = syntheses.shape[-1]
    synth, render = power_spectrum(syntheses), power_spectrum(renders)
    ratios = {}
    for period in decoder_periods(size):
        f = size // period
        cells = [(f, 0), (0, f), (f, f)]
        ratios[period] = max(float(synth[y, x] / render[y, x].clamp_min(1e-12)) for y, x in cells)
    return ratios


@torch.no_grad()
def judge_reading_px(judge: KeypointJudge, images: torch.Tensor, keypoints_2d: torch.Tensor) -> float:
    """The judge's mean 2D error (px of the judge's crop) on images (B, 3, S, S) whose keypoints
    are (B, 21, 2) px of the S-px crop; images are resampled to the judge's size."""
    size, target = images.shape[-1], judge.config.image_size
    if size != target:
        images = F.interpolate(images.float(), size=(target, target), mode="bilinear", align_corners=False,
                               antialias=size > target)
        keypoints_2d = (keypoints_2d + 0.5) * (target / size) - 0.5
    return float(keypoint_error_px(judge(images.float()), keypoints_2d).mean())


@dataclass
class SynthesisScores:
    """A decoder's measurements: hand L1 on test syntheses (0..1 scale), the judge on renders and
    syntheses of the fixed poses (px of the judge's crop), grid ratios per period, the colours a
    pose transfer keeps."""

    hand_l1: float
    judge_renders_px: float
    judge_syntheses_px: float
    grid: dict[int, float]
    transfer: "TransferColours"

    @property
    def ratio(self) -> float:
        """Judge error on syntheses over that on renders (1 = read as well as the renders)."""
        return self.judge_syntheses_px / max(self.judge_renders_px, 1e-9)

    @property
    def worst_grid(self) -> float:
        return max(self.grid.values())


@torch.no_grad()
def score_decoder(model: DVAE, judge: KeypointJudge, fixed: HandBatch, judge_fixed: HandBatch,
                  tests: list[HandBatch]) -> SynthesisScores:
    """``model``'s ``SynthesisScores``: ``tests`` (renders at the model's output size) give hand L1
    and the grid, and the pose transfer of the last batch's poses onto the first's contents;
    ``fixed`` (the same size) the syntheses the judge reads, ``judge_fixed`` (the same scenes
    rendered at the judge's size) the renders it reads."""
    model.eval()
    hand_err, hand_px, synths, renders = 0.0, 0.0, [], []
    for batch in tests:
        synth = synthesize_from_labels(model, batch).float()
        hand_err += float(((synth - batch.image).abs() * batch.mask).sum())
        hand_px += float(batch.mask.sum()) * 3
        synths.append(synth)
        renders.append(batch.image)
    synth = synthesize_from_labels(model, fixed).float()
    requested, _ = frame_keypoints(fixed.keypoints_3d - fixed.keypoints_3d[:, :1], model.config.output_size)
    return SynthesisScores(hand_err / max(hand_px, 1.0),
                           judge_reading_px(judge, judge_fixed.image, judge_fixed.keypoints_2d),
                           judge_reading_px(judge, synth, requested),
                           grid_ratios(torch.cat(synths), torch.cat(renders)),
                           transfer_colours(model, tests[0], tests[-1]))


@dataclass
class TransferColours:
    """Mean RGB distance (0..1 scale) between photo A's hand / background colours and a transfer's,
    with A's content (``*_kept``) and with a random other image's (``*_random``)."""

    hand_kept: float
    hand_random: float
    background_kept: float
    background_random: float

    @property
    def kept_share(self) -> float:
        """1 - (kept distance / random distance), hand and background averaged: 1 = A's colours
        exactly, 0 = no closer than another image's content."""
        hand = 1.0 - self.hand_kept / max(self.hand_random, 1e-9)
        background = 1.0 - self.background_kept / max(self.background_random, 1e-9)
        return 0.5 * (hand + background)


def _mean_colours(images: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean colour (B, 3) of images (B, 3, S, S) with weights (B, 1, S, S)."""
    return (images * weight).sum(dim=(-2, -1)) / weight.sum(dim=(-2, -1)).clamp_min(1e-6)


@torch.no_grad()
def transfer_colours(model: DVAE, content: HandBatch, pose: HandBatch) -> TransferColours:
    """Pose transfer of ``pose``'s poses onto ``content``'s images (both (B, ...) test renders of
    the same size): distances of the results' mean hand colour (where the decoder's alpha, or
    the pose render's mask, covers) and background colour (elsewhere) from A's, next to a
    transfer whose content comes from the next image of the batch (a random other one)."""
    model.eval()
    a = model.image_posterior(content.image).mu
    b = model.image_posterior(pose.image).mu
    other = torch.roll(a, shifts=1, dims=0)
    size = model.config.output_size
    mask_a = F.interpolate(content.mask.float(), size=(size, size), mode="area")
    image_a = F.interpolate(content.image.float(), size=(size, size), mode="area")
    hand_a = _mean_colours(image_a, mask_a)
    background_a = _mean_colours(image_a, 1.0 - mask_a)

    def distances(z_content: torch.Tensor) -> tuple[float, float]:
        layers = model.decode_layers(model.swap_blocks(z_content, b, POSE_BLOCKS))
        hand_w = layers.alpha if layers.alpha is not None else F.interpolate(pose.mask.float(), size=(size, size))
        hand = _mean_colours(layers.image.float(), hand_w.float())
        background = _mean_colours(layers.image.float(), 1.0 - hand_w.float())
        return (float((hand - hand_a).norm(dim=-1).mean()), float((background - background_a).norm(dim=-1).mean()))

    hand_kept, background_kept = distances(a)
    hand_random, background_random = distances(other)
    return TransferColours(hand_kept, hand_random, background_kept, background_random)


