"""DVAEConfig.colour_paths: configs and checkpoints keep the flag and its weights.

(What the paths are for, backgrounds that follow the content, is tests/test_dvae_acceptance.py.)
"""
from __future__ import annotations

import pytest
from dataclasses import replace

import torch

from core.checkpoint import load_model, save_model
from core.models import DVAE, DVAEConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_flag_round_trips_through_configs_and_checkpoints(tmp_path):
    config = replace(DVAEConfig.tiny(), colour_paths=True)
    assert DVAEConfig.from_dict(config.to_dict()) == config
    saved_v1 = {k: v for k, v in config.to_dict().items() if k not in ("colour_paths", "config_version")}
    assert DVAEConfig.from_saved(saved_v1).colour_paths is False  # written before the paths existed
    torch.manual_seed(0)
    model = DVAE(config)
    torch.nn.init.normal_(model.image_decoder.coarse_colour.weight)  # starts at zero: make it matter
    loaded, _ = load_model(save_model(tmp_path / "m.safetensors", model))
    z = torch.randn(2, config.latent_dim)
    with torch.no_grad():
        torch.testing.assert_close(loaded.decode_image(z), model.eval().decode_image(z))
