"""Acceptance: one small dVAE trained once through both steps does what a user relies on.

The module fixture trains a 32 px model on labelled synthetic hands (``core.data.synthetic``)
through the disentangling and the embedding step with ``train.loop.schedule.PhasedRun`` (the machinery
of ``train.fit``), about a minute on one CPU thread, then tests it on samples of another seed:

(a) pose estimation beats predicting the training labels' mean pose by a margin;
(b) decoding an image's latent reproduces that image, not another one;
(c) pose transfer (``HandModel.transfer``: pose and viewpoint blocks of one image, content and free
    blocks of another) keeps the pose source's pose and takes the content source's background.

What a minute of CPU training can learn sets the data: right hands, photo-like viewpoints,
two-colour gradient backgrounds, no augmentation (the default stream, with both hands, views all
round, photo backgrounds and augmentation, is not learnt in that time: docs/development.md). The
model enables ``DVAEConfig.colour_paths``: without them a model this small decodes no background
colour.
"""
from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest
import torch

from core.api import HandModel
from core.data.sample import HandBatch
from core.data.synthetic import SyntheticConfig, SyntheticRenderer
from core.hand.sampling import HandSamplerConfig, ViewpointConfig
from core.metrics import keypoint_errors_3d, root_relative
from core.models import DVAE, DisentangleObjective, DVAEConfig, EmbeddingObjective, LatentBlock, LatentLayout
from core.render.augment import AugmentConfig
from core.render.backgrounds import BackgroundConfig
from core.render.renderer import RenderConfig
from core.render.scene import SceneConfig
from train.loop.optim import OptimizerConfig
from train.loop.schedule import PhasedRun, ScheduleConfig, two_step_phases
from train.loop.sources import IndexedBatches
from train.loop.trainer import TrainerConfig

pytestmark = pytest.mark.slow  # every test reads one dVAE trained through both steps (one module fixture)

SIZE = 32
TRAIN_SEED, TEST_SEED = 0, 1          # different seeds: disjoint sample streams
TRAIN_SAMPLES, TEST_SAMPLES = 2048, 128
BATCH = 16
DISENTANGLE_STEPS, EMBED_STEPS = 800, 700
# Margins: each at least 20 % from what a working trainer reaches and missed by a broken one
# (learning rate 1e-12); the measured values are in docs/development.md.
POSE_MARGIN = 0.85            # (a) model error <= 85 % of the mean pose's error
RECONSTRUCTION_MARGIN = 0.8   # (b) own-image error <= 80 % of the error against another image
TRANSFER_POSE_MARGIN = 0.9    # (c) error to the pose source <= 90 % of the error to the other pose
# (c) and the pose read back from a transfer is within this mean joint distance (mm) of the pose the
# model reads from the pose source itself (a 32 px decoder's hands are blobs, so the pose comes
# back only roughly: the bound lies between a working and a broken trainer's distance)
TRANSFER_POSE_MM = 47.0
BACKGROUND_MARGIN = 0.93      # (c) background error to the content source <= 93 % of that to its own


def data_config() -> SyntheticConfig:
    hands = HandSamplerConfig(viewpoint=ViewpointConfig(typical_fraction=1.0), left_fraction=0.0)
    return SyntheticConfig(render=RenderConfig(size=SIZE), scene=SceneConfig(hands=hands),
                           background=BackgroundConfig(photo_fraction=0.0, gradient_fraction=1.0),
                           augment=AugmentConfig(enabled=False))


def model_config() -> DVAEConfig:
    layout = LatentLayout((LatentBlock("pose", 12), LatentBlock("viewpoint", 8), LatentBlock("content", 8),
                           LatentBlock("free", 4)))
    return replace(DVAEConfig.tiny(), layout=layout, mlp_hidden=128, colour_paths=True)


def render(renderer: SyntheticRenderer, seed: int, count: int, chunk: int = 256) -> HandBatch:
    parts = [renderer.render(list(range(start, min(count, start + chunk))), seed).batch
             for start in range(0, count, chunk)]
    return HandBatch(**{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(HandBatch)})


def rows(batch: HandBatch, index: torch.Tensor) -> HandBatch:
    return HandBatch(**{f.name: getattr(batch, f.name)[index] for f in fields(HandBatch)})


def random_batches(pool: HandBatch, seed: int):
    """A phase's source: batch k = BATCH random rows of the pool, a pure function of (seed, k)."""
    def make(k: int) -> HandBatch:
        generator = torch.Generator().manual_seed(seed * 1_000_003 + k)
        return rows(pool, torch.randint(0, pool.batch_size, (BATCH,), generator=generator))
    return lambda: IndexedBatches(make)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 3, S, S) in [0, 1] -> (N, S, S, 3) uint8, the API's image format."""
    return (images.permute(0, 2, 3, 1).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def mean_joint_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N,) mean root-relative (palm) joint error in mm, no rescaling."""
    return keypoint_errors_3d(pred, gt, scale_normalise=False).mean(axis=1)


@pytest.fixture(scope="module")
def trained():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on the shared 2 cores are many times slower when busy
    try:
        renderer = SyntheticRenderer(data_config())
        train, test = render(renderer, TRAIN_SEED, TRAIN_SAMPLES), render(renderer, TEST_SEED, TEST_SAMPLES)
        torch.manual_seed(0)
        model = DVAE(model_config())
        phases = two_step_phases(ScheduleConfig(DISENTANGLE_STEPS, EMBED_STEPS), DisentangleObjective(),
                                 EmbeddingObjective(), random_batches(train, 0), random_batches(train, 1))
        run = PhasedRun(model, phases, OptimizerConfig(lr=3e-3, warmup_steps=10, cosine=False),
                        TrainerConfig(device="cpu", eval_every=0, checkpoint_every=0, log_every=100, seed=0))
        for _ in run.steps():
            pass
        yield HandModel(model), train, test
    finally:
        torch.set_num_threads(threads)


def test_estimated_poses_beat_the_mean_training_pose(trained):
    model, train, test = trained
    gt = test.keypoints_3d.double().numpy()
    mean_pose = root_relative(train.keypoints_3d.double().numpy()).mean(axis=0)
    model_error = mean_joint_error(model.estimate(to_uint8(test.image)).keypoints_3d, gt).mean()
    mean_pose_error = mean_joint_error(np.broadcast_to(mean_pose, gt.shape), gt).mean()
    assert model_error <= POSE_MARGIN * mean_pose_error, (model_error, mean_pose_error)


def test_decoding_an_encoded_image_reproduces_that_image(trained):
    model, _, test = trained
    images = to_uint8(test.image)
    decoded = model.decode(model.encode(images)).astype(np.float64)
    own = np.abs(decoded - images).mean()
    other = np.abs(decoded - np.roll(images, 1, axis=0)).mean()  # each row against another image
    assert own <= RECONSTRUCTION_MARGIN * other, (own, other)


def test_transfer_keeps_the_pose_and_takes_the_other_background(trained):
    model, _, test = trained
    images = to_uint8(test.image)
    content_images = np.roll(images, 1, axis=0)           # row i: pose of image i, content of image i - 1
    transferred = model.transfer(content_images, images)
    gt = test.keypoints_3d.double().numpy()
    pose = model.estimate(transferred).keypoints_3d
    to_pose_source = mean_joint_error(pose, gt).mean()
    to_other_pose = mean_joint_error(pose, np.roll(gt, 1, axis=0)).mean()
    assert to_pose_source <= TRANSFER_POSE_MARGIN * to_other_pose, (to_pose_source, to_other_pose)
    to_source_estimate = mean_joint_error(pose, model.estimate(images).keypoints_3d).mean()
    assert to_source_estimate <= TRANSFER_POSE_MM, to_source_estimate

    # background: pixels that neither hand covers, against each image's background alone
    mask = test.mask[:, 0].numpy()
    background = (mask < 0.05) & (np.roll(mask, 1, axis=0) < 0.05)            # (N, S, S)
    own = to_uint8(test.content).astype(np.float64)
    other = np.roll(own, 1, axis=0)
    pixels = transferred.astype(np.float64)
    to_content_source = np.abs(pixels - other)[background].mean()
    to_own = np.abs(pixels - own)[background].mean()
    assert to_content_source <= BACKGROUND_MARGIN * to_own, (to_content_source, to_own)
