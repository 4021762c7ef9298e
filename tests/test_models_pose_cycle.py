"""The pose cycle (``DisentangleConfig.pose_cycle``): the frozen image encoder reads syntheses
back, and only the image decoder learns from it."""
from __future__ import annotations

import pytest
import torch

from core.models import DVAE, DisentangleConfig, DisentangleObjective
from tests.model_builders import pose_guided_config
from tests.model_builders import random_batch

pytestmark = pytest.mark.usefixtures("one_thread")

FROZEN = dict(label_networks_lr_scale=0.0, image_encoder_lr_scale=0.0)


@pytest.mark.parametrize("trainable", ["label_networks_lr_scale", "image_encoder_lr_scale"])
def test_the_pose_cycle_refuses_a_trainable_encoder_or_label_networks(trainable):
    config = DisentangleConfig(pose_cycle=0.5, **{**FROZEN, trainable: 1.0})
    with pytest.raises(ValueError, match="pose_cycle"):
        DisentangleObjective(config)


def test_the_pose_cycle_is_off_by_default_and_adds_no_term():
    model = DVAE(pose_guided_config())
    terms = DisentangleObjective()(model, random_batch(2, 32, seed=1), generator=torch.Generator().manual_seed(0))
    assert "pose_cycle" not in terms


def test_the_pose_cycle_reaches_the_hand_layer_only():
    torch.manual_seed(0)
    model = DVAE(pose_guided_config())
    objective = DisentangleObjective(DisentangleConfig(pose_cycle=1.0, **FROZEN))
    terms = objective(model, random_batch(4, 32, seed=2), generator=torch.Generator().manual_seed(0))
    assert float(terms["pose_cycle"].detach()) > 0
    model.zero_grad(set_to_none=True)
    terms["pose_cycle"].backward()
    decoder = model.image_decoder
    hand_grads = [p.grad for p in decoder.stages.parameters()] + [decoder.to_output.weight.grad]
    assert all(g is not None for g in hand_grads) and sum(float(g.abs().sum()) for g in hand_grads) > 0
    # the background layer is held fixed (no halo for contrast), the readers are frozen ...
    assert all(p.grad is None for p in decoder.background.parameters())
    for reader in (model.image_encoder, model.pose_decoder, model.viewpoint_decoder):
        assert all(p.grad is None for p in reader.parameters())
    # ... and only for the term: they train again elsewhere
    assert all(p.requires_grad for p in model.parameters())


def test_the_low_pass_removes_a_checkerboard_and_keeps_a_flat_image():
    from core.models.objectives import low_pass
    checkerboard = (torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2
    image = checkerboard.float().expand(1, 3, 8, 8)
    assert torch.allclose(low_pass(image)[..., 1:-1, 1:-1], torch.full((1, 3, 6, 6), 0.5))
    flat = torch.full((2, 3, 8, 8), 0.3)
    assert torch.allclose(low_pass(flat), flat)
