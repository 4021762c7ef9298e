"""core.baselines: the peers' networks, objectives, checkpoints and the PoseEstimator protocol."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.baselines import (
    CROSSMODAL_KIND,
    DIRECT_KIND,
    CrossModalConfig,
    CrossModalObjective,
    CrossModalVAE,
    DirectRegression,
    DirectRegressionConfig,
    DirectRegressionObjective,
    DVAEEstimator,
    PoseEstimator,
    load_baseline,
    load_pose_estimator,
    save_baseline,
)
from core.checkpoint import CheckpointError, save_model
from core.data.sample import APPEARANCE_DIM, HandBatch
from core.models.config import DVAEConfig
from core.models.dvae import DVAE
from core.models.image_nets import ImageEncoder
from core.models.objectives import LabelTargets, joint_distance
from tests.data_builders import camera_hand

TINY = DVAEConfig.tiny()


@pytest.fixture
def single_thread():
    """Tiny networks on a shared CPU train several times faster on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def labelled_batch(size: int = 4, image_size: int = 32, has_3d: bool = True) -> HandBatch:
    """Random images with plausible camera-frame hands (half of them left hands)."""
    joints = torch.stack([torch.from_numpy(camera_hand(seed=i, turn=0.3 * i)).float() for i in range(size)])
    g = torch.Generator().manual_seed(0)
    return HandBatch(
        image=torch.rand(size, 3, image_size, image_size, generator=g),
        mask=torch.zeros(size, 1, image_size, image_size),
        keypoints_3d=joints if has_3d else torch.zeros_like(joints),
        keypoints_2d=torch.zeros(size, 21, 2), visible=torch.ones(size, 21, dtype=torch.bool),
        K=torch.eye(3).expand(size, 3, 3).clone(), crop_rotation=torch.eye(3).expand(size, 3, 3).clone(),
        is_left=torch.arange(size) % 2 == 1, content=torch.zeros(size, 3, image_size, image_size),
        appearance=torch.zeros(size, APPEARANCE_DIM), has_3d=torch.full((size,), has_3d),
        has_2d=torch.full((size,), has_3d), has_content=torch.zeros(size, dtype=torch.bool),
        index=torch.arange(size),
    )


def build_direct() -> DirectRegression:
    torch.manual_seed(0)
    return DirectRegression(DirectRegressionConfig(TINY))


def build_crossmodal(decode_image: bool = False) -> CrossModalVAE:
    torch.manual_seed(0)
    return CrossModalVAE(CrossModalConfig(TINY, decode_image=decode_image))


def test_baselines_use_the_dvae_image_encoder() -> None:
    for model in (build_direct(), build_crossmodal()):
        assert type(model.image_encoder) is ImageEncoder
        dvae_encoder = DVAE(TINY).image_encoder
        assert [p.shape for p in model.image_encoder.parameters()] == [p.shape for p in dvae_encoder.parameters()]


@pytest.mark.parametrize("estimator", [build_direct(), build_crossmodal(), DVAEEstimator(DVAE(TINY))])
def test_every_model_is_a_pose_estimator(estimator) -> None:
    assert isinstance(estimator, PoseEstimator)
    out = estimator.predict(torch.rand(3, 3, estimator.image_size, estimator.image_size))
    assert out.shape == (3, 21, 3) and torch.isfinite(out).all()
    assert torch.allclose(out[:, 0], torch.zeros(3, 3), atol=1e-4)  # wrist-relative


@pytest.mark.parametrize("model,objective,expected", [
    (build_direct(), DirectRegressionObjective(), {"canonical_pose", "pose_3d_mm", "viewpoint", "handedness"}),
    (build_crossmodal(), CrossModalObjective(), {"rgb_pose_3d_mm", "pose_pose_3d_mm", "kl_rgb", "kl_pose"}),
    (build_crossmodal(True), CrossModalObjective(), {"rgb_canonical_pose", "image"}),
])
def test_objectives_return_named_terms_that_train(model, objective, expected, single_thread) -> None:
    batch = labelled_batch()
    optimizer = torch.optim.Adam(objective.param_groups(model, 1e-2))
    first = objective(model, batch, torch.Generator().manual_seed(1))
    assert expected <= set(first) and "total" in first
    assert torch.allclose(first["total"], sum(v for k, v in first.items() if k != "total"))
    for _ in range(10):
        terms = objective(model, batch, torch.Generator().manual_seed(1))
        optimizer.zero_grad()
        terms["total"].backward()
        optimizer.step()
    assert objective(model, batch, torch.Generator().manual_seed(1))["total"] < 0.7 * first["total"]


def test_rows_without_3d_labels_do_not_train_the_baselines() -> None:
    model = build_direct()
    terms = DirectRegressionObjective()(model, labelled_batch(has_3d=False))
    terms["total"].backward()
    assert float(terms["total"].detach()) == 0.0
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


@pytest.mark.slow
def test_the_crossmodal_pose_path_learns_to_reconstruct_poses_through_the_shared_latent() -> None:
    """3D -> z -> 3D: a few optimiser steps on the pose path alone bring the decoded canonical
    pose close to the truth (the path is wired end to end, gradients reach the encoder)."""
    torch.manual_seed(0)
    model = build_crossmodal()
    batch = labelled_batch()
    targets = LabelTargets.from_batch(batch)
    normalised = targets.relative / targets.relative[:, 9].norm(dim=-1)[:, None, None]

    def error() -> torch.Tensor:
        z = model.pose_posterior(normalised, batch.is_left.bool()).mu
        assert z.shape == (4, TINY.latent_dim)
        return joint_distance(model.decode_pose(z).canonical_pose, targets.canonical_pose).mean()

    before = float(error().detach())
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        optimiser.zero_grad()
        error().backward()
        optimiser.step()
    assert float(error().detach()) < 0.2 * before


@pytest.mark.parametrize("build,kind", [(build_direct, DIRECT_KIND), (lambda: build_crossmodal(True), CROSSMODAL_KIND)])
def test_baseline_checkpoints_round_trip(tmp_path: Path, build, kind: str) -> None:
    model = build()
    path = save_baseline(tmp_path / "m.safetensors", model, step=7)
    loaded, meta = load_baseline(path)
    assert meta.kind == kind and meta.step == 7 and type(loaded) is type(model)
    images = torch.rand(2, 3, 32, 32)
    assert torch.allclose(loaded.predict(images), model.predict(images), atol=1e-5)
    estimator, _ = load_pose_estimator(path)
    assert torch.allclose(estimator.predict(images), model.predict(images), atol=1e-5)


def test_load_pose_estimator_dispatches_dvae_checkpoints(tmp_path: Path) -> None:
    torch.manual_seed(0)
    dvae = DVAE(TINY)
    path = save_model(tmp_path / "dvae.safetensors", dvae)
    estimator, meta = load_pose_estimator(path)
    assert isinstance(estimator, DVAEEstimator) and meta.kind == dvae.kind
    images = torch.rand(2, 3, 32, 32)
    assert torch.allclose(estimator.predict(images), DVAEEstimator(dvae).predict(images), atol=1e-5)
    with pytest.raises(CheckpointError, match="dvae.safetensors.*not a baseline"):
        load_baseline(path)


def test_a_baseline_config_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    path = save_baseline(tmp_path / "d.safetensors", build_direct())
    other = DirectRegression(DirectRegressionConfig(DVAEConfig.small()))
    save_baseline(tmp_path / "other.safetensors", other)
    # swap in weights of another size under the first file's config: the names match, shapes not
    from core.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint

    tensors, _ = load_checkpoint(tmp_path / "other.safetensors")
    bad = save_checkpoint(tmp_path / "bad.safetensors", tensors,
                          CheckpointMeta(DIRECT_KIND, DirectRegressionConfig(TINY).to_dict()))
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_baseline(bad)
    assert load_baseline(path)[1].kind == DIRECT_KIND
