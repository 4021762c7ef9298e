"""TOML configs of train.fit: typed parsing, errors that name the key, the example configs."""
from __future__ import annotations

from pathlib import Path

import pytest

from train.config import FitConfig, load_fit_config, parse_fit_config
from core.config_io import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_values_land_in_typed_fields(tmp_path) -> None:
    config = load_fit_config(write(tmp_path, """
[model]
image_size = 64
[data]
source = "rhd:/data/RHD_published_v2"
batch_size = 16
labelled_fraction = 0.5
weak_fraction = 0.25
[optimizer]
lr = 1
betas = [0.5, 0.9]
[trainer]
grad_clip = 2
amp = false
[embed]
decoder_lr_scale = 0.0
"""))
    assert config.model.image_size == 64
    assert config.data.source_kind() == ("rhd", "/data/RHD_published_v2")
    assert config.optimizer.lr == 1.0 and isinstance(config.optimizer.lr, float)
    assert config.optimizer.betas == (0.5, 0.9)
    assert config.trainer.grad_clip == 2.0 and config.trainer.amp is False
    assert config.trainer.device == "auto"
    assert config.embed.decoder_lr_scale == 0.0
    assert config.schedule == FitConfig().schedule


@pytest.mark.parametrize("text, message", [
    ("[data]\nbatchsize = 4\n", r"run.toml \[data\]: unknown key\(s\) \['batchsize'\]"),
    ("[data.synthetic]\ncolour = 1\n", r"\[data\.synthetic\]: unknown key\(s\) \['colour'\]"),
    ("[modle]\nimage_size = 64\n", r"unknown table\(s\) \['modle'\]"),
    ("[model]\nimage_sise = 64\n", r"\[model\].*image_sise"),
    ("[embed]\nmatsh = 1.0\n", r"\[embed\].*matsh"),
    ("[data]\nbatch_size = \"8\"\n", r"\[data\] batch_size: expected int"),
    ("[trainer]\namp = 1\n", r"\[trainer\] amp: expected bool"),
    ("[trainer]\nmax_steps = 5\n", r"'max_steps' is set by \[schedule\]"),
    ("[data]\nsource = \"imagenet:/x\"\n", r"source must be 'synthetic' or '<kind>:<folder>'"),
    ("[data]\nlabelled_fraction = 0.2\nweak_fraction = 0.5\n", r"weak_fraction"),
    ("[schedule]\ndisentangle_steps = 0\nembed_steps = 0\n", r"\[schedule\].*not both 0"),
    ("[model]\nimage_size = 100\n", r"\[model\].*power of two"),
    ("data = 3\n", r"\[data\]: expected a table"),
])
def test_bad_configs_name_the_offending_key(tmp_path, text, message) -> None:
    with pytest.raises(ConfigError, match=message):
        load_fit_config(write(tmp_path, text))


def test_missing_or_broken_file_is_named(tmp_path) -> None:
    with pytest.raises(ConfigError, match="nothere.toml: config file not found"):
        load_fit_config(tmp_path / "nothere.toml")
    with pytest.raises(ConfigError, match="run.toml: not valid TOML"):
        load_fit_config(write(tmp_path, "[data\n"))


def test_example_configs() -> None:
    tiny = load_fit_config(CONFIGS / "tiny.toml")
    assert tiny.model.image_size == 64
    assert tiny.schedule.disentangle_steps + tiny.schedule.embed_steps <= 40
    default = load_fit_config(CONFIGS / "default.toml")
    assert default.model.image_size == 128
    assert default.total_samples >= 200_000
    assert default.schedule.disentangle_steps > 0 and default.schedule.embed_steps > 0


def test_config_round_trips_through_its_dict() -> None:
    config = load_fit_config(CONFIGS / "tiny.toml")
    table = config.to_dict()
    trainer = {k: v for k, v in table["trainer"].items() if k not in ("max_steps", "checkpoint_dir")}
    del table["data"]["synthetic"]["render"]["size"]  # set by [model] image_size
    again = parse_fit_config({**table, "trainer": trainer})
    assert again == config


def test_synthetic_options_are_typed_and_the_render_size_follows_the_model(tmp_path) -> None:
    config = load_fit_config(write(tmp_path, "[model]\nimage_size = 64\n[data.synthetic.scene.hands]\n"
                                             "left_fraction = 0.25\n[data.synthetic.augment]\nenabled = false\n"))
    assert config.data.synthetic.scene.hands.left_fraction == 0.25
    assert config.data.synthetic.augment.enabled is False
    with pytest.raises(ConfigError, match=r"'size' is set by \[model\] image_size"):
        load_fit_config(write(tmp_path, "[data.synthetic.render]\nsize = 64\n"))


def test_the_defaults_are_what_the_shipped_configs_use(tmp_path) -> None:
    empty = load_fit_config(write(tmp_path, ""))
    assert empty == FitConfig()
    assert empty.trainer.grad_clip == 5.0 and empty.trainer.device == "auto"  # train.fit's, not TrainerConfig's
    assert empty.model.colour_paths is True
    assert empty.disentangle.labels.handedness == empty.embed.labels.handedness == 1.0
