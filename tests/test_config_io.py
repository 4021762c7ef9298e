"""core.config_io: the one dict -> dataclass reader of every config, and the stored models still read."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.baselines.crossmodal import CrossModalConfig, CrossModalLoss
from core.baselines.direct import DirectRegressionConfig, DirectRegressionLoss
from core.checkpoint import read_model_config
from core.config_io import ConfigError, from_dict, from_table, to_table
from core.models.config import DVAEConfig, LatentLayout
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
