"""Premultiplied compositing, determinism, left hands as mirror images, same-hand pairs."""
from __future__ import annotations

import math

import pytest
import torch

from core.data.synthetic import SyntheticConfig, SyntheticRenderer
from core.render.augment import AugmentConfig
from core.render.renderer import composite
from core.render.scene import HandGroups, SceneConfig, sample_scene

SIZE = 64


@pytest.fixture(scope="module")
def renderer() -> SyntheticRenderer:
    return SyntheticRenderer(SyntheticConfig.at_size(SIZE, augment=AugmentConfig(enabled=False)))


def test_one_render_composites_over_two_backgrounds(renderer):
    result = renderer.render(list(range(16)), seed=3)
    out = result.render
    white = composite(out, torch.ones(16, 3, SIZE, SIZE))
    noise = composite(out, torch.rand(16, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0)))
    inside = (out.coverage == 1).expand_as(white)
    outside = (out.coverage < 1).expand_as(white)
    assert inside.any() and outside.any()
    assert torch.equal(white[inside], noise[inside])
    assert (white[outside] - noise[outside]).abs().mean() > 0.1
    # Premultiplied: colour never exceeds coverage.
    assert (out.rgb_premul <= out.coverage + 1e-6).all() and (out.rgb_premul >= 0).all()


def test_the_same_seed_gives_the_same_batch_and_another_seed_does_not(renderer):
    a = renderer.render([5, 6, 7, 8], seed=1).batch
    b = renderer.render([5, 6, 7, 8], seed=1).batch
    c = renderer.render([5, 6, 7, 8], seed=2).batch
    assert torch.equal(a.image, b.image) and torch.equal(a.keypoints_3d, b.keypoints_3d)
    assert not torch.allclose(a.keypoints_3d, c.keypoints_3d)


def test_a_sample_does_not_depend_on_its_batch(renderer):
    alone = renderer.render([9], seed=4).batch
    inside = renderer.render([7, 8, 9, 10], seed=4).batch
    assert torch.allclose(alone.keypoints_2d[0], inside.keypoints_2d[2], atol=1e-4)
    assert (alone.image[0] - inside.image[2]).abs().mean() < 1e-3


def test_kept_hand_groups_draw_the_same_scenes_and_stay_bounded():
    groups = HandGroups(SceneConfig(), capacity=2)
    indices = [3, 700, 9000, 130]  # four groups of 64
    fresh = sample_scene(indices, 5)
    sample_scene([700, 9000], 5, SceneConfig(), groups)  # kept from an earlier batch
    kept = sample_scene(indices, 5, SceneConfig(), groups)
    assert torch.equal(fresh.angles, kept.angles) and torch.equal(fresh.viewpoint, kept.viewpoint)
    assert torch.equal(fresh.is_left, kept.is_left) and torch.equal(fresh.shape.segment_lengths, kept.shape.segment_lengths)
    assert len(groups) == 2


def test_a_left_hand_is_the_mirror_image_of_the_right_hand(renderer):
    scene = sample_scene(list(range(6)), seed=5)
    mirror = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
    hands = renderer.hands
    right = hands.render(scene.angles, scene.shape, scene.viewpoint, torch.zeros(6, dtype=torch.bool),
                         scene.appearance, scene.camera)
    # The left hand seen through the mirrored camera: light and framing mirrored too.
    appearance = scene.appearance
    appearance_mirrored = type(appearance)(**{**appearance.__dict__, "light_dir": appearance.light_dir * torch.tensor([-1.0, 1, 1])})
    camera = type(scene.camera)(scene.camera.distance_mm, scene.camera.fill, scene.camera.shift * torch.tensor([-1.0, 1.0]))
    left = hands.render(scene.angles, scene.shape, mirror @ scene.viewpoint @ mirror, torch.ones(6, dtype=torch.bool),
                        appearance_mirrored, camera)
    flipped_x = SIZE - 1 - left.keypoints_2d[..., 0]
    assert torch.allclose(flipped_x, right.keypoints_2d[..., 0], atol=1e-3)
    assert torch.allclose(left.keypoints_2d[..., 1], right.keypoints_2d[..., 1], atol=1e-3)
    assert (left.coverage.flip(-1) - right.coverage).abs().mean() < 0.01
    assert (left.rgb_premul.flip(-1) - right.rgb_premul).abs().mean() < 0.01
    assert torch.equal(left.visible, right.visible) or (left.visible != right.visible).float().mean() < 0.02
    assert not math.isclose(float((left.coverage - right.coverage).abs().mean()), 0.0, abs_tol=1e-3)


def test_pairs_share_the_hand_and_differ_in_content(renderer):
    first, second = renderer.render_pairs(list(range(8)), seed=6)
    single = renderer.render(list(range(8)), seed=6).batch
    assert torch.equal(first.image, single.image)
    for name in ("keypoints_3d", "keypoints_2d", "K", "visible", "is_left"):
        assert torch.equal(getattr(first, name), getattr(second, name)), name
    assert (first.content - second.content).abs().mean() > 0.05
    assert not torch.allclose(first.appearance, second.appearance)
    same_look, other_background = renderer.render_pairs(list(range(8)), seed=6, change_appearance=False)
    assert torch.equal(same_look.mask, other_background.mask)
    assert torch.equal(same_look.appearance, other_background.appearance)
