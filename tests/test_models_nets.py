"""Shapes of every network, the latent layout, the pose construction, config round trips."""
from __future__ import annotations

import json

import pytest
import torch

from core.hand.canonical import from_canonical, rotation_to_6d, to_canonical
from core.models import DVAE, DVAEConfig, LatentBlock, LatentLayout, compose_pose_3d
from tests.model_builders import random_keypoints

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("config", [DVAEConfig(), DVAEConfig.small()], ids=["128", "64"])
def test_every_network_has_the_documented_shapes(config):
    torch.manual_seed(0)
    model = DVAE(config).eval()
    s, d, b = config.image_size, config.latent_dim, 2
    layout = config.layout
    with torch.inference_mode():
        image = torch.rand(b, 3, s, s)
        q = model.image_posterior(image)
        assert q.mu.shape == q.logvar.shape == (b, d)
        assert model.decode_image(q.mu).shape == (b, 3, s, s)
        out = model.decode_image(torch.randn(b, d) * 3)
        assert out.min() >= 0 and out.max() <= 1
        c = model.content_posterior(image, torch.rand(b, config.appearance_dim))
        assert c.mu.shape == (b, layout.size("content"))
        p = model.pose_posterior(torch.randn(b, 21, 3))
        assert p.mu.shape == (b, layout.size("pose"))
        v = model.viewpoint_posterior(torch.randn(b, 6), torch.tensor([True, False]))
        assert v.mu.shape == (b, layout.size("viewpoint"))
        labels = model.decode_labels(q.mu)
        assert labels.canonical_pose.shape == (b, 21, 3)
        assert labels.rotation_6d.shape == (b, 6) and labels.left_logit.shape == (b,)
        assert labels.rotation.shape == (b, 3, 3)
        assert labels.appearance.shape == (b, config.appearance_dim)
        assert labels.pose_3d(90.0).shape == (b, 21, 3)


def test_bundled_size_fits_30_megabytes_in_half_precision():
    params = sum(p.numel() for p in DVAE(DVAEConfig()).parameters())
    assert params * 2 < 30e6


def test_layout_slices_cover_the_latent_in_order():
    layout = LatentLayout()
    assert layout.names == ("pose", "viewpoint", "content", "free")
    assert layout.sizes == (24, 8, 24, 8) and layout.dim == 64
    assert layout.slice("viewpoint") == slice(24, 32)
    z = torch.arange(64.0)[None]
    parts = layout.split(z)
    assert torch.equal(torch.cat([parts[n] for n in layout.names], -1), z)


def test_layout_rejects_missing_or_duplicate_blocks():
    with pytest.raises(ValueError, match="content"):
        LatentLayout((LatentBlock("pose", 4), LatentBlock("viewpoint", 4)))
    with pytest.raises(ValueError, match="unique"):
        LatentLayout((LatentBlock("pose", 4), LatentBlock("pose", 4), LatentBlock("viewpoint", 2),
                      LatentBlock("content", 2)))


def test_assemble_fills_missing_blocks_with_the_prior_mean():
    model = DVAE(DVAEConfig.tiny())
    pose = torch.randn(3, model.layout.size("pose"))
    z = model.assemble({"pose": pose})
    assert z.shape == (3, model.layout.dim)
    assert torch.equal(z[:, model.layout.slice("pose")], pose)
    assert torch.count_nonzero(z[:, model.layout.size("pose"):]) == 0
    with pytest.raises(KeyError, match="unknown"):
        model.assemble({"shape": pose})


def test_compose_pose_3d_inverts_the_canonical_split():
    g = torch.Generator().manual_seed(1)
    is_left = torch.tensor([True, False, True, False])
    keypoints = random_keypoints(4, g, is_left)
    canonical = to_canonical(keypoints, is_left)
    rebuilt = compose_pose_3d(canonical.pose, canonical.viewpoint, is_left, canonical.scale)
    torch.testing.assert_close(rebuilt, keypoints - keypoints[:, :1], atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(rebuilt, from_canonical(canonical.pose, canonical.viewpoint, canonical.scale,
                                                       None, is_left), atol=1e-4, rtol=1e-5)
    # handedness matters: the mirror image differs
    flipped = compose_pose_3d(canonical.pose, canonical.viewpoint, ~is_left, canonical.scale)
    assert (flipped - rebuilt).abs().max() > 10.0
    assert rotation_to_6d(canonical.viewpoint).shape == (4, 6)


@pytest.mark.parametrize("config", [DVAEConfig(), DVAEConfig.small(), DVAEConfig.tiny()])
def test_config_round_trips_through_json(config):
    assert DVAEConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_config_rejects_unknown_keys_and_bad_sizes():
    with pytest.raises(ValueError, match="depth"):
        DVAEConfig.from_dict(DVAEConfig().to_dict() | {"depth": 3})
    with pytest.raises(ValueError, match="power of two"):
        DVAEConfig(image_size=96)
