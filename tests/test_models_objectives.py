"""Objectives: named finite terms, per-step gradients, row masks, weak supervision geometry."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from core.models import (
    DVAE,
    DisentangleConfig,
    DisentangleObjective,
    DVAEConfig,
    EmbeddingConfig,
    EmbeddingObjective,
    Step,
)
from core.models.geometry import project, solve_root_translation
from tests.model_builders import random_batch, random_keypoints

pytestmark = pytest.mark.usefixtures("one_thread")

MIXED = dict(has_3d=[1, 1, 0, 0, 1, 0], has_2d=[1, 1, 1, 1, 1, 0], has_content=[1, 0, 0, 0, 1, 0])


def mixed_batch(seed: int = 0):
    return random_batch(6, 32, seed=seed, **{k: [bool(v) for v in vals] for k, vals in MIXED.items()})


@pytest.fixture
def model() -> DVAE:
    torch.manual_seed(0)
    return DVAE(DVAEConfig.tiny())


def run(objective, model, batch):
    return objective(model, batch, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("objective", [DisentangleObjective(), EmbeddingObjective()], ids=["step1", "step2"])
def test_terms_are_named_finite_scalars_summing_to_total(objective, model):
    terms = run(objective, model, mixed_batch())
    assert "total" in terms and len(terms) > 5
    for name, value in terms.items():
        assert value.dim() == 0 and torch.isfinite(value), name
    parts = sum(v for k, v in terms.items() if k != "total")
    torch.testing.assert_close(terms["total"], parts)
    assert {"image", "canonical_pose", "viewpoint", "handedness"} <= set(terms)


def grads_by_module(model: DVAE) -> dict[str, bool]:
    names = ["pose_encoder", "viewpoint_encoder", "content_encoder", "pose_decoder", "viewpoint_decoder",
             "image_encoder", "image_decoder"]
    return {n: any(p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(model, n).parameters())
            for n in names}


def test_step1_gradients_reach_label_networks_and_image_decoder(model):
    run(DisentangleObjective(), model, mixed_batch())["total"].backward()
    grads = grads_by_module(model)
    assert all(grads.values()), grads  # image encoder: free block and tag-less content
    trained = {id(p) for p in model.parameters_for_step(Step.DISENTANGLE)}
    assert trained == {id(p) for p in model.parameters()}


def test_step2_trains_the_image_encoder_and_stops_gradients_into_label_encoders(model):
    objective = EmbeddingObjective()
    run(objective, model, mixed_batch())["total"].backward()
    grads = grads_by_module(model)
    assert grads["image_encoder"] and grads["image_decoder"] and grads["pose_decoder"]
    assert not grads["pose_encoder"] and not grads["viewpoint_encoder"] and not grads["content_encoder"]
    groups = {g["name"]: g for g in objective.param_groups(model, 1e-3)}
    assert set(groups) == {"image_encoder", "decoders"}
    assert groups["decoders"]["lr"] == pytest.approx(1e-3 * objective.config.decoder_lr_scale)


def test_step2_can_fine_tune_label_encoders_and_freeze_decoders(model):
    objective = EmbeddingObjective(EmbeddingConfig(label_encoder_lr_scale=0.05, decoder_lr_scale=0.0))
    run(objective, model, mixed_batch())["total"].backward()
    assert grads_by_module(model)["pose_encoder"]
    assert {g["name"] for g in objective.param_groups(model, 1.0)} == {"image_encoder", "label_encoders"}


@pytest.mark.parametrize("objective", [DisentangleObjective(), EmbeddingObjective()], ids=["step1", "step2"])
def test_rows_without_3d_labels_do_not_contribute_pose_terms(objective, model):
    batch = mixed_batch()
    before = run(objective, model, batch)
    unlabelled = ~batch.has_3d
    batch.keypoints_3d[unlabelled] = torch.randn_like(batch.keypoints_3d[unlabelled]) * 300
    after = run(objective, model, batch)
    for name in ("canonical_pose", "pose_3d_mm", "viewpoint"):
        torch.testing.assert_close(after[name], before[name])
    batch.keypoints_3d[~unlabelled] += torch.randn_like(batch.keypoints_3d[~unlabelled]) * 30
    assert not torch.allclose(run(objective, model, batch)["pose_3d_mm"], before["pose_3d_mm"])


def test_only_2d_only_rows_contribute_the_weak_term(model):
    objective = EmbeddingObjective()
    batch = mixed_batch()
    weak = batch.has_2d & ~batch.has_3d
    assert weak.any()
    before = run(objective, model, batch)["weak_2d"]
    assert before > 0
    moved = dataclasses.replace(batch, keypoints_2d=batch.keypoints_2d.clone())
    moved.keypoints_2d[~weak] += 5.0  # rows with 3D labels or no 2D: ignored
    torch.testing.assert_close(run(objective, model, moved)["weak_2d"], before)
    moved.keypoints_2d[weak] += torch.randn_like(moved.keypoints_2d[weak]) * 5.0
    assert not torch.allclose(run(objective, model, moved)["weak_2d"], before)
    model.zero_grad()
    run(objective, model, batch)["weak_2d"].backward()  # the 2D error trains the image encoder
    assert model.image_encoder.head.linear.weight.grad.abs().sum() > 0
    no_weak = dataclasses.replace(batch, has_2d=batch.has_3d.clone())
    terms = run(objective, model, no_weak)
    assert terms["weak_2d"] == 0 and torch.isfinite(terms["total"])


def test_unlabelled_rows_add_the_elbo_with_its_weight(model):
    batch = random_batch(4, 32, has_3d=[False] * 4, has_2d=[False] * 4, has_content=[False] * 4)
    full = run(EmbeddingObjective(), model, batch)
    none = run(EmbeddingObjective(EmbeddingConfig(unlabelled=0.0)), model, batch)
    assert full["image"] > 0 and full["kl_pose"] > 0
    assert none["image"] == 0 and none["kl_pose"] == 0
    assert full["canonical_pose"] == 0 and full["weak_2d"] == 0


def test_root_solve_recovers_the_true_translation_from_noise_free_2d():
    g = torch.Generator().manual_seed(3)
    is_left = torch.tensor([False, True, False])
    keypoints = random_keypoints(3, g, is_left).double()
    relative = keypoints - keypoints[:, :1]
    K = torch.tensor([[300.0, 0, 64], [0, 320.0, 60], [0, 0, 1]], dtype=torch.float64).repeat(3, 1, 1)
    uv = project(keypoints, K)
    weights = torch.ones(3, 21, dtype=torch.float64)
    weights[0, 5:] = 0  # a few visible joints suffice
    t = solve_root_translation(relative, uv, K, weights)
    torch.testing.assert_close(t, keypoints[:, 0], atol=1e-3, rtol=1e-6)
    # and it is differentiable in the decoded pose
    relative.requires_grad_(True)
    solve_root_translation(relative, uv, K, weights).sum().backward()
    assert torch.isfinite(relative.grad).all() and relative.grad.abs().sum() > 0


@pytest.mark.slow
def test_a_few_steps_reduce_the_disentangle_loss():
    torch.manual_seed(0)
    model = DVAE(DVAEConfig.tiny())
    objective = DisentangleObjective(DisentangleConfig())
    batch = random_batch(8, 32, seed=5)
    optimizer = torch.optim.Adam(objective.param_groups(model, 3e-3))

    def loss() -> torch.Tensor:
        return objective(model, batch, generator=torch.Generator().manual_seed(0))["total"]

    start = loss().item()
    for _ in range(30):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < 0.7 * start


def test_step1_infers_content_from_the_image_only_for_rows_without_a_tag(model):
    """Variant (a) uses the content-tag encoder; variant (b) the image encoder's content head."""
    content_rows = model.layout.slice("content")

    def content_head_grad(has_content: list[bool]) -> float:
        model.zero_grad()
        batch = random_batch(4, 32, seed=2, has_content=has_content)
        run(DisentangleObjective(), model, batch)["total"].backward()
        weight_grad = model.image_encoder.head.linear.weight.grad
        return float(weight_grad[content_rows].abs().sum())  # mu rows of the content block

    assert content_head_grad([True] * 4) == 0.0
    assert content_head_grad([True, False, True, True]) > 0.0
