"""Checkpoints: round trip, self-description, clear errors, atomic writes."""
from __future__ import annotations

import os

import pytest
import torch

from core import checkpoint as ckpt
from core.checkpoint import (
    CheckpointError,
    CheckpointMeta,
    load_checkpoint,
    load_model,
    pack_optimizer_state,
    read_meta,
    save_checkpoint,
    save_model,
    unpack_optimizer_state,
)
from core.models import DVAE, MODEL_KIND, DVAEConfig, LatentBlock, LatentLayout

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_model() -> DVAE:
    torch.manual_seed(0)
    return DVAE(DVAEConfig.tiny())


def test_model_round_trip_keeps_weights_config_and_step(tmp_path, tiny_model):
    path = save_model(tmp_path / "m.safetensors", tiny_model, step=123, extra={"note": "x"})
    loaded, meta = load_model(path)
    assert loaded.config == tiny_model.config
    assert meta.kind == MODEL_KIND and meta.step == 123 and meta.extra == {"note": "x"}
    assert meta.package_version  # installed version or the documented fallback
    for name, tensor in tiny_model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_half_precision_export_is_smaller_and_loads_as_float32(tmp_path, tiny_model):
    full = save_model(tmp_path / "full.safetensors", tiny_model)
    half = save_model(tmp_path / "half.safetensors", tiny_model, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded, _ = load_model(half)
    weight = loaded.image_decoder.fc.weight
    assert weight.dtype == torch.float32
    torch.testing.assert_close(weight, tiny_model.image_decoder.fc.weight, atol=1e-3, rtol=1e-3)


def test_optimizer_state_travels_as_extra_tensors(tmp_path, tiny_model):
    model = DVAE(DVAEConfig.tiny())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.image_decoder(torch.randn(2, model.config.latent_dim)).mean().backward()
    opt.step()
    tensors, packed = pack_optimizer_state(opt.state_dict())
    path = save_model(tmp_path / "o.safetensors", model, extra_tensors=tensors, extra={"optimizer": packed})
    stored, meta = load_checkpoint(path)
    restored = torch.optim.AdamW(model.parameters(), lr=1e-3)
    restored.load_state_dict(unpack_optimizer_state(stored, meta.extra["optimizer"]))
    first = next(iter(opt.state_dict()["state"]))
    assert torch.equal(restored.state_dict()["state"][first]["exp_avg"], opt.state_dict()["state"][first]["exp_avg"])
    # extras do not disturb loading the model itself
    load_model(path)


def test_missing_file_says_missing(tmp_path):
    with pytest.raises(CheckpointError, match="missing") as err:
        load_checkpoint(tmp_path / "nope.safetensors")
    assert "nope.safetensors" in str(err.value)


def test_truncated_file_says_truncated(tmp_path, tiny_model):
    path = save_model(tmp_path / "m.safetensors", tiny_model)
    data = path.read_bytes()
    for keep in (len(data) // 2, len(data) - 10, 100):
        cut = tmp_path / f"cut{keep}.safetensors"
        cut.write_bytes(data[:keep])
        with pytest.raises(CheckpointError, match="truncated"):
            load_model(cut)


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(path)


def test_plain_safetensors_without_metadata_is_not_a_checkpoint(tmp_path):
    import safetensors.torch

    path = tmp_path / "plain.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        read_meta(path)


def test_other_kind_is_another_architecture(tmp_path):
    path = save_checkpoint(tmp_path / "x.safetensors", {"w": torch.zeros(2)}, CheckpointMeta(kind="other/net", config={}))
    with pytest.raises(CheckpointError, match="another architecture"):
        load_model(path)


def test_other_shapes_are_another_architecture(tmp_path, tiny_model):
    wider = DVAEConfig.tiny()
    other = DVAE(DVAEConfig(**{**wider.__dict__, "layout": LatentLayout(
        tuple(LatentBlock(b.name, b.size + 1) for b in wider.layout.blocks))}))
    path = save_model(tmp_path / "other.safetensors", other)
    tensors, _ = load_checkpoint(path)
    with pytest.raises(CheckpointError, match="another architecture.*shape"):
        ckpt.load_weights_into(tiny_model, tensors, path)


def test_unknown_config_key_is_another_architecture(tmp_path, tiny_model):
    config = tiny_model.config.to_dict() | {"attention_heads": 4}
    path = save_checkpoint(tmp_path / "y.safetensors", ckpt.model_tensors(tiny_model),
                           CheckpointMeta(kind=MODEL_KIND, config=config))
    with pytest.raises(CheckpointError, match="another architecture.*attention_heads"):
        load_model(path)


def test_failed_write_leaves_no_partial_file(tmp_path, tiny_model, monkeypatch):
    target = tmp_path / "m.safetensors"
    save_model(target, tiny_model, step=1)
    before = target.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        save_model(target, tiny_model, step=2)
    assert target.read_bytes() == before  # the old checkpoint is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no temporary left
    with pytest.raises(OSError):
        save_model(tmp_path / "new.safetensors", tiny_model)
    assert not (tmp_path / "new.safetensors").exists()
