"""The auxiliary keypoint heatmap head: a training-only term; without it the model is as before."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from core import HandModel
from core.checkpoint import load_model, save_model
from core.models import DVAE, DVAEConfig, EmbeddingConfig, EmbeddingObjective
from core.models.heatmaps import heatmap_error, heatmap_targets
from tests.model_builders import random_batch

pytestmark = pytest.mark.usefixtures("one_thread")

WITH_HEAD = replace(DVAEConfig.tiny(), keypoint_heatmap_size=8)


def build(config: DVAEConfig) -> DVAE:
    torch.manual_seed(0)
    return DVAE(config)


def run(objective: EmbeddingObjective, model: DVAE) -> dict[str, torch.Tensor]:
    return objective(model, random_batch(4, 32, seed=1), generator=torch.Generator().manual_seed(0))


def test_targets_peak_on_the_keypoints_cell():
    stride = 32 / 8
    centre = (torch.tensor([[[2.0, 5.0]]]) + 0.5) * stride - 0.5  # cell (x 2, y 5)'s centre, in pixels
    target = heatmap_targets(centre, 32, 8, sigma=1.0)
    assert target.shape == (1, 1, 8, 8)
    assert float(target[0, 0, 5, 2]) == pytest.approx(1.0)
    assert float(target[0, 0, 5, 3]) == pytest.approx(float(torch.exp(torch.tensor(-0.5))))
    assert float(heatmap_error(torch.zeros_like(target), target)) == pytest.approx(torch.pi, rel=0.05)


def test_with_a_weight_the_term_appears_and_reaches_the_encoders_first_layer():
    model = build(WITH_HEAD)
    objective = EmbeddingObjective(EmbeddingConfig(heatmap_weight=0.5))
    objective.param_groups(model, 1e-3)
    terms = run(objective, model)
    assert "heatmap" in terms and torch.isfinite(terms["heatmap"]) and float(terms["heatmap"].detach()) > 0
    terms["heatmap"].backward()
    stem = model.image_encoder.stem[0].weight.grad
    assert stem is not None and float(stem.abs().sum()) > 0
    assert all(p.grad is not None for p in model.keypoint_head.parameters())
    assert all(p.grad is None for m in model.decoder_modules() for p in m.parameters())  # only features
    encoder_group = next(g for g in model.param_groups(objective.step, 1e-3) if g["name"] == "image_encoder")
    assert {id(p) for p in model.keypoint_head.parameters()} <= {id(p) for p in encoder_group["params"]}


def test_without_the_head_the_model_is_as_before_and_the_head_changes_no_output():
    plain, headed = build(DVAEConfig.tiny()), build(WITH_HEAD)
    assert plain.keypoint_head is None and not any("keypoint_head" in k for k in plain.state_dict())
    for name, tensor in plain.state_dict().items():  # built last: the other networks start the same
        assert torch.equal(headed.state_dict()[name], tensor), name
    image = random_batch(3, 32).image
    assert torch.equal(plain.image_posterior(image).mu, headed.image_posterior(image).mu)
    q, heatmaps = headed.image_posterior_and_heatmaps(image)
    assert torch.equal(q.mu, plain.image_posterior(image).mu) and heatmaps.shape == (3, 21, 8, 8)
    plain_terms, headed_terms = (run(EmbeddingObjective(), m) for m in (plain, headed))
    assert "heatmap" not in plain_terms and plain_terms.keys() == headed_terms.keys()
    assert all(torch.equal(plain_terms[k], headed_terms[k]) for k in plain_terms)


def test_a_weight_without_a_head_is_refused_before_training():
    with pytest.raises(ValueError, match="keypoint_heatmap_size"):
        EmbeddingObjective(EmbeddingConfig(heatmap_weight=1.0)).param_groups(build(DVAEConfig.tiny()), 1e-3)
    with pytest.raises(ValueError, match="keypoint_heatmap_size"):
        replace(DVAEConfig.tiny(), keypoint_heatmap_size=32)  # the crop's own size: no encoder stage has it


def test_a_checkpoint_with_the_head_loads_everywhere(tmp_path):
    model = build(WITH_HEAD)
    path = save_model(tmp_path / "m.safetensors", model)
    loaded, _ = load_model(path)
    assert loaded.config.keypoint_heatmap_size == 8
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert HandModel.load(path).model.keypoint_head is not None
