"""core.config_io: the one dict -> dataclass reader of every config, and the stored models still read."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from core.baselines.crossmodal import CrossModalConfig, CrossModalLoss
from core.baselines.direct import DirectRegressionConfig, DirectRegressionLoss
from core.checkpoint import load_checkpoint, load_model, read_model_config, save_checkpoint, save_model
from core.config_io import ConfigError, from_dict, from_saved, from_table, to_table
from core.models.config import DVAEConfig, LatentLayout
from core.models.dvae import DVAE
from core.models.objectives import DisentangleConfig, EmbeddingConfig, LabelLossWeights

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = (DVAEConfig, LatentLayout, LabelLossWeights, DisentangleConfig, EmbeddingConfig,
           DirectRegressionConfig, DirectRegressionLoss, CrossModalConfig, CrossModalLoss)


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_config_round_trips_through_json(cls) -> None:
    config = cls()
    stored = json.loads(json.dumps(config.to_dict()))
    assert stored == to_table(config)
    assert cls.from_dict(stored) == config == from_dict(cls, stored)


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_unknown_keys_and_non_tables_are_refused_naming_the_class(cls) -> None:
    with pytest.raises(ValueError, match=rf"{cls.__name__}: unknown config keys \['bogus'\]"):
        cls.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match=rf"{cls.__name__}.from_dict expects a dict, got list"):
        cls.from_dict([])


def test_the_json_reader_converts_and_the_toml_reader_checks() -> None:
    assert DVAEConfig.from_dict({"image_size": "64", "logvar_min": -3}).image_size == 64
    assert DisentangleConfig.from_dict({"kl": 1, "image_l2": 1}) == DisentangleConfig(kl=1.0, image_l2=True)
    with pytest.raises(KeyError):
        LatentLayout.from_dict({})  # a stored layout always names its blocks
    with pytest.raises(ConfigError, match=r"x.toml \[t\] kl: expected a number"):
        from_table(DisentangleConfig, {"kl": "1"}, "x.toml [t]")


@pytest.mark.parametrize("path", ["assets/default_model.safetensors", "tests/data/plain_decoder_v1_tiny.safetensors"])
def test_stored_models_still_read(path) -> None:
    config = read_model_config(ROOT / path)
    assert DVAEConfig.from_dict(config.to_dict()) == config


def version_1(config_dict: dict, *dropped: str) -> dict:
    """``config_dict`` as a file written before config versions (and before ``dropped``) holds it."""
    return {k: v for k, v in config_dict.items() if k not in ("config_version", *dropped)}


def test_a_version_1_config_without_the_changed_keys_keeps_the_old_defaults() -> None:
    model = version_1(DVAEConfig.small().to_dict(), "colour_paths")
    assert DVAEConfig.from_saved(model) == replace(DVAEConfig.small(), colour_paths=False)
    assert DVAEConfig().colour_paths is True and DVAEConfig.from_dict(model).colour_paths is True
    labels = version_1(LabelLossWeights().to_dict(), "handedness")
    assert LabelLossWeights.from_saved(labels).handedness == 0.1
    assert LabelLossWeights().handedness == 1.0
    # nested: a baseline's network, an objective's label weights (or no label table at all)
    baseline = {"network": version_1(DVAEConfig.tiny().to_dict(), "colour_paths")}
    assert DirectRegressionConfig.from_saved(baseline).network.colour_paths is False
    assert DisentangleConfig.from_saved({"labels": labels}).labels.handedness == 0.1
    assert EmbeddingConfig.from_saved({}).labels.handedness == 0.1
    # a saved version-1 config that states a key keeps it
    assert DVAEConfig.from_saved({**model, "colour_paths": True}).colour_paths is True


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_a_saved_config_round_trips_with_its_version(cls) -> None:
    config = cls()
    stored = json.loads(json.dumps(config.to_dict()))
    assert cls.from_saved(stored) == config == from_saved(cls, stored)


def test_the_version_is_written_and_a_newer_one_refused() -> None:
    stored = DVAEConfig().to_dict()
    assert stored["config_version"] == DVAEConfig.CONFIG_VERSION == 3
    assert DisentangleConfig().to_dict()["labels"]["config_version"] == 2
    assert "config_version" not in LatentLayout().to_dict()  # unchanged since configs were first saved
    with pytest.raises(ValueError, match="config_version 4 is newer than this program reads"):
        DVAEConfig.from_saved({**stored, "config_version": 4})


def test_a_version_2_model_config_keeps_transposed_convolutions_and_version_1_both_old_defaults() -> None:
    stored = {k: v for k, v in DVAEConfig.small().to_dict().items() if k != "decoder_resize_conv"}
    assert DVAEConfig.from_saved({**stored, "config_version": 2}).decoder_resize_conv is False
    old = DVAEConfig.from_saved({k: v for k, v in stored.items() if k not in ("colour_paths", "config_version")})
    assert old.decoder_resize_conv is False and old.colour_paths is False
    assert DVAEConfig().decoder_resize_conv is True


def test_a_version_1_checkpoint_loads_the_model_it_was_saved_with(tmp_path) -> None:
    config = replace(DVAEConfig.tiny(), colour_paths=False)
    saved = save_model(tmp_path / "m.safetensors", DVAE(config))
    old = tmp_path / "old.safetensors"
    tensors, meta = load_checkpoint(saved)
    save_checkpoint(old, tensors, replace(meta, config=version_1(meta.config, "colour_paths")))
    assert read_model_config(old) == config
    assert load_model(old)[0].config == config
    assert load_model(saved)[0].config == config  # and a new file round-trips
