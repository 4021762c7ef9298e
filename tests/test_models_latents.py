"""The DVAE's latent bookkeeping: latents from labels, swapping and walking blocks, and the tiles
that show them. The reference of each test is the slice assignment the call sites did by hand
before these methods existed; results must be bit-identical to it."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from core.models import CONTENT, POSE, POSE_BLOCKS, VIEWPOINT, DVAE, DVAEConfig
from core.models.objectives import LabelTargets
from tests.model_builders import random_batch
from train.loop.sample_grid import label_latent
from train.sheets import to_tiles

pytestmark = pytest.mark.usefixtures("one_thread")

HAS_CONTENT = [True, False, True, False]


@pytest.fixture(scope="module")
def model() -> DVAE:
    torch.manual_seed(0)
    return DVAE(DVAEConfig.tiny()).eval()


@pytest.fixture(scope="module")
def batch():
    return random_batch(4, 32, seed=3, has_content=HAS_CONTENT)


def by_hand(model: DVAE, batch, rest: torch.Tensor) -> torch.Tensor:
    """What ``train.loop.sample_grid`` and ``train.experiments.probe`` wrote before ``latent_from_labels``."""
    targets = LabelTargets.from_batch(batch)
    layout = model.layout
    z = rest.clone()
    z[:, layout.slice(POSE)] = model.pose_posterior(targets.canonical_pose).mu
    z[:, layout.slice(VIEWPOINT)] = model.viewpoint_posterior(targets.rotation_6d, batch.is_left.bool()).mu
    content = model.content_posterior(batch.content, batch.appearance).mu
    z[:, layout.slice(CONTENT)] = torch.where(batch.has_content[:, None], content, z[:, layout.slice(CONTENT)])
    return z


@torch.no_grad()
def test_latent_from_labels_then_decode_equals_the_hand_written_assembly(model, batch):
    rest = model.image_posterior(batch.image).mu
    expected = by_hand(model, batch, rest)
    z = label_latent(model, batch, rest)
    assert torch.equal(z, expected)
    assert torch.equal(model.decode_image(z), model.decode_image(expected))
    # the tag-less rows keep the image's content block, the tagged rows take the tag's
    content = model.layout.slice(CONTENT)
    assert torch.equal(z[~batch.has_content, content], rest[~batch.has_content, content])
    assert not torch.equal(z[batch.has_content, content], rest[batch.has_content, content])


@torch.no_grad()
def test_without_rest_the_unlabelled_blocks_are_the_prior_mean(model, batch):
    targets = LabelTargets.from_batch(batch)
    z = model.latent_from_labels(targets.canonical_pose, targets.rotation_6d, batch.is_left.bool())
    assert z.shape == (4, model.layout.dim)
    assert torch.equal(z[:, model.layout.slice(POSE)], model.pose_posterior(targets.canonical_pose).mu)
    for name in model.layout.names:
        if name not in POSE_BLOCKS:
            assert torch.count_nonzero(z[:, model.layout.slice(name)]) == 0, name


@torch.no_grad()
def test_posterior_from_labels_picks_content_per_row_for_mean_and_log_variance(model, batch):
    targets = LabelTargets.from_batch(batch)
    image_q = model.image_posterior(batch.image)
    tag_q = model.content_posterior(batch.content, batch.appearance)
    q = model.posterior_from_labels(targets.canonical_pose, targets.rotation_6d, batch.is_left.bool(),
                                    content=tag_q, has_content=batch.has_content, rest=image_q)
    assert list(q) == list(model.layout.names)
    tagged, content = batch.has_content, model.layout.slice(CONTENT)
    for field in ("mu", "logvar"):
        got = getattr(q[CONTENT], field)
        assert torch.equal(got[tagged], getattr(tag_q, field)[tagged])
        assert torch.equal(got[~tagged], getattr(image_q, field)[~tagged, content])
    for name in model.layout.free_names:
        assert torch.equal(q[name].logvar, image_q.logvar[:, model.layout.slice(name)])


def test_swap_exchanges_exactly_the_named_blocks(model):
    a, b = torch.randn(3, model.layout.dim), torch.randn(3, model.layout.dim)
    a_before, b_before = a.clone(), b.clone()
    a_swapped = model.swap_blocks(a, b, POSE_BLOCKS)
    b_swapped = model.swap_blocks(b, a, POSE_BLOCKS)
    assert torch.equal(a, a_before) and torch.equal(b, b_before)  # inputs untouched
    for name in model.layout.names:
        block = model.layout.slice(name)
        if name in POSE_BLOCKS:
            assert torch.equal(a_swapped[:, block], b[:, block]) and torch.equal(b_swapped[:, block], a[:, block])
        else:
            assert torch.equal(a_swapped[:, block], a[:, block]) and torch.equal(b_swapped[:, block], b[:, block])
    # one latent is broadcast against a batch
    one = model.swap_blocks(a, b[1], [CONTENT])
    assert torch.equal(one[:, model.layout.slice(CONTENT)], b[1, model.layout.slice(CONTENT)].expand(3, -1))
    with pytest.raises(KeyError, match="shape"):
        model.swap_blocks(a, b, ["shape"])


def test_walk_block_moves_one_block_from_start_to_end(model):
    start, end = torch.randn(model.layout.dim), torch.randn(model.layout.dim)
    walk = model.walk_block(start, end, VIEWPOINT, 5)
    block = model.layout.slice(VIEWPOINT)
    assert walk.shape == (5, model.layout.dim)
    assert torch.equal(walk[0], start) and torch.equal(walk[-1, block], end[block])
    outside = torch.ones(model.layout.dim, dtype=torch.bool)
    outside[block] = False
    assert torch.equal(walk[:, outside], start[outside].expand(5, -1))
    torch.testing.assert_close(walk[2, block], 0.5 * (start[block] + end[block]))


@pytest.mark.parametrize("interpolation", [cv2.INTER_LINEAR, cv2.INTER_NEAREST])
def test_tiles_are_the_images_in_bgr_bytes(interpolation):
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    tiles = to_tiles(images, 24, interpolation)
    # the numpy path train.experiments.figures and train.evaluate.decoder_ablation used before
    rgb = (images.clamp(0, 1).numpy().transpose(0, 2, 3, 1) * 255).round().astype(np.uint8)
    for tile, image in zip(tiles, rgb):
        assert tile.shape == (24, 24, 3) and tile.dtype == np.uint8
        assert np.array_equal(tile, cv2.resize(np.ascontiguousarray(image[..., ::-1]), (24, 24),
                                               interpolation=interpolation))
