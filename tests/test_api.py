"""HandModel: numpy in / numpy out, documented shapes and dtypes, save/load, block semantics."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from core import api
from core.api import HandModel, PoseEstimate
from core.checkpoint import CheckpointError
from core.models import CONTENT, POSE_BLOCKS, DVAEConfig
from tests.model_builders import random_keypoints

pytestmark = pytest.mark.usefixtures("one_thread")

N = 3


@pytest.fixture(scope="module")
def model() -> HandModel:
    return HandModel.untrained(DVAEConfig.tiny(), seed=0)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(N, 48, 40, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def poses() -> tuple[np.ndarray, np.ndarray]:
    is_left = torch.tensor([False, True, False])
    kp = random_keypoints(N, torch.Generator().manual_seed(0), is_left)
    return kp.numpy(), is_left.numpy()


@pytest.mark.slow
def test_core_exports_hand_model_without_qt():
    code = "import sys; from core import HandModel; assert not any(m.startswith('PySide6') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_untrained_round_trips_through_save_and_load(tmp_path, model, images):
    path = model.save(tmp_path / "m.safetensors")
    loaded = HandModel.load(path)
    assert loaded.config == model.config
    np.testing.assert_array_equal(loaded.encode(images), model.encode(images))
    half = HandModel.load(model.save(tmp_path / "h.safetensors", half=True))
    np.testing.assert_allclose(half.encode(images), model.encode(images), atol=0.05)


def test_untrained_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(7)
    expected = torch.rand(1)
    torch.manual_seed(7)
    a = HandModel.untrained(DVAEConfig.tiny(), seed=3)
    assert torch.rand(1) == expected
    b = HandModel.untrained(DVAEConfig.tiny(), seed=3)
    for (name, pa), pb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_missing_bundled_model_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(api, "DEFAULT_MODEL_PATH", tmp_path / "default_model.safetensors")
    with pytest.raises(FileNotFoundError, match="train"):
        HandModel.load()
    with pytest.raises(CheckpointError, match="missing"):
        HandModel.load(tmp_path / "elsewhere.safetensors")


def test_layout_and_image_size(model):
    assert model.image_size == 32
    assert model.layout.dim == sum(model.layout.sizes)
    assert model.layout.slice("pose").start == 0


def test_estimate_returns_documented_shapes(model, images):
    est = model.estimate(images)
    assert isinstance(est, PoseEstimate)
    d = model.layout.dim
    assert est.keypoints_3d.shape == (N, 21, 3) and est.keypoints_3d.dtype == np.float32
    assert est.keypoints_2d.shape == (N, 21, 2) and est.keypoints_2d.dtype == np.float32
    assert est.uncertainty.shape == (N, 21) and (est.uncertainty >= 0).all()
    assert est.is_left.shape == (N,) and est.is_left.dtype == bool
    assert est.latent.shape == (N, d) and est.latent.dtype == np.float32
    np.testing.assert_allclose(est.keypoints_3d[:, 0], 0.0, atol=1e-4)  # wrist at the origin
    np.testing.assert_array_equal(est.latent, model.encode(images))
    np.testing.assert_array_equal(model.estimate(images).uncertainty, est.uncertainty)  # fixed seed
    # 2D keypoints are framed in the INPUT image (40 x 48): box centred, 3/4 of the crop
    uv = est.keypoints_2d
    centre = 0.5 * (uv.min(axis=1) + uv.max(axis=1))
    np.testing.assert_allclose(centre, np.tile([[19.5, 23.5]], (N, 1)), atol=0.6)
    single = model.estimate(images[0])
    assert single.keypoints_3d.shape == (1, 21, 3)


def test_encode_decode_shapes(model, images):
    z = model.encode(images)
    assert z.shape == (N, model.layout.dim) and z.dtype == np.float32
    out = model.decode(z)
    assert out.shape == (N, 32, 32, 3) and out.dtype == np.uint8
    assert model.decode(z[0]).shape == (1, 32, 32, 3)
    pose = model.decode_pose(z)
    assert pose.shape == (N, 21, 3) and pose.dtype == np.float32
    with pytest.raises(ValueError, match="latent"):
        model.decode(np.zeros((N, 5)))
    with pytest.raises(ValueError, match="images"):
        model.encode(np.zeros((4, 4)))


def test_encode_pose_fills_only_pose_and_viewpoint(model, poses):
    kp, is_left = poses
    z = model.encode_pose(kp, is_left)
    assert z.shape == (N, model.layout.dim) and z.dtype == np.float32
    labelled = np.zeros(model.layout.dim, bool)
    for name in POSE_BLOCKS:
        labelled[model.layout.slice(name)] = True
    assert np.abs(z[:, labelled]).sum() > 0
    assert np.count_nonzero(z[:, ~labelled]) == 0
    # a pose is a pose wherever the hand is: translation does not change the latent
    np.testing.assert_allclose(model.encode_pose(kp + 100.0, is_left), z, atol=1e-5)


def test_with_pose_replaces_pose_blocks_and_keeps_content(model, poses, images):
    kp, is_left = poses
    z = model.encode(images)
    edited = model.with_pose(z, kp, is_left)
    target = model.encode_pose(kp, is_left)
    for name in model.layout.names:
        s = model.layout.slice(name)
        expected = target[:, s] if name in POSE_BLOCKS else z[:, s]
        np.testing.assert_allclose(edited[:, s], expected, atol=1e-6, err_msg=name)


def test_synthesize_with_each_kind_of_content(model, poses, images):
    kp, is_left = poses
    d_content = model.layout.size("content")
    plain = model.synthesize(kp, is_left)
    assert plain.shape == (N, 32, 32, 3) and plain.dtype == np.uint8
    shifted = model.synthesize(kp, is_left, content=np.full(d_content, 2.0, np.float32))
    assert not np.array_equal(shifted, plain)
    tagged = model.synthesize(kp, is_left, content=images)
    assert tagged.shape == plain.shape and not np.array_equal(tagged, plain)
    assert model.synthesize(kp[0], True).shape == (1, 32, 32, 3)


def test_transfer_from_image_or_keypoints(model, poses, images):
    kp, is_left = poses
    from_image = model.transfer(images[0], images)
    assert from_image.shape == (N, 32, 32, 3) and from_image.dtype == np.uint8
    z = model.encode(images[:1]).repeat(N, 0)
    zb = model.encode(images)
    for name in POSE_BLOCKS:
        z[:, model.layout.slice(name)] = zb[:, model.layout.slice(name)]
    np.testing.assert_array_equal(from_image, model.decode(z))
    from_keypoints = model.transfer(images[:1], kp, is_left)
    np.testing.assert_array_equal(from_keypoints, model.decode(model.with_pose(model.encode(images[:1]).repeat(N, 0),
                                                                                kp, is_left)))


def test_swap_blocks_copies_exactly_the_named_blocks_at_the_inputs_precision(model):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, model.layout.dim)), rng.standard_normal(model.layout.dim)
    out = model.swap_blocks(a, b)  # b broadcast against both rows of a
    assert out.shape == a.shape and out.dtype == np.float64
    for name in model.layout.names:
        s = model.layout.slice(name)
        np.testing.assert_array_equal(out[:, s], np.broadcast_to(b[s], (2, s.stop - s.start)) if name in POSE_BLOCKS
                                      else a[:, s], err_msg=name)
    assert model.swap_blocks(a.astype(np.float32), b.astype(np.float32), [CONTENT]).dtype == np.float32
    with pytest.raises(ValueError, match="source"):
        model.swap_blocks(a, np.zeros(3))


def test_interpolate_ends_and_steps():
    a, b = np.zeros(6, np.float32), np.arange(6, dtype=np.float32)
    walk = HandModel.interpolate(a, b, 5)
    assert walk.shape == (5, 6) and walk.dtype == np.float32
    np.testing.assert_allclose(walk[0], a)
    np.testing.assert_allclose(walk[-1], b)
    np.testing.assert_allclose(walk[2], 0.5 * b)
    c = np.roll(b, 1) + 1
    arc = HandModel.interpolate(b, c, 7, spherical=True)
    np.testing.assert_allclose(arc[[0, -1]], [b, c], atol=1e-5)
    norms = np.linalg.norm(arc, axis=1)
    assert norms.min() >= min(np.linalg.norm(b), np.linalg.norm(c)) - 1e-4
