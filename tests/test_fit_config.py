"""TOML configs of train.fit: typed parsing, errors that name the key, the example configs."""
from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from core.config_io import ConfigError, read_toml, to_toml
from core.models import DVAE, EmbeddingObjective
from core.models.config import DVAEConfig
from train.config import FitConfig, InitConfig, load_fit_config, parse_fit_config
from train.fit import write_run_config
from train.loop.schedule import ScheduleConfig

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


def test_a_config_that_extends_a_base_states_only_what_differs() -> None:
    base = load_fit_config(CONFIGS / "bundled" / "01_plain.toml")
    assert base.model == DVAEConfig.small() and base.model.colour_paths
    assert base.trainer.grad_clip == 5.0
    assert base.disentangle.labels.handedness == base.embed.labels.handedness == 1.0
    finetune = replace(base, init=InitConfig(weights="runs/bundled/01_plain/model.safetensors"),
                       data=replace(base.data, seed=1), schedule=ScheduleConfig(0, 11000),
                       optimizer=replace(base.optimizer, lr=5e-4))
    assert load_fit_config(CONFIGS / "bundled" / "02_plain_more_embedding.toml") == finetune
    modules = ("pose_encoder", "viewpoint_encoder", "content_encoder", "pose_decoder", "viewpoint_decoder",
               "appearance_decoder", "image_encoder")
    pose_guided = replace(base, init=InitConfig(weights="runs/bundled/02_plain_more_embedding/model.safetensors", modules=modules),
                          model=replace(base.model, decoder_pose_maps=True, decoder_compositing=True,
                                        decoder_resize_conv=False),
                          data=replace(base.data, seed=2), schedule=ScheduleConfig(5000, 0),
                          trainer=replace(base.trainer, eval_every=250),
                          disentangle=replace(base.disentangle, label_networks_lr_scale=0.0,
                                              image_encoder_lr_scale=0.0))
    assert load_fit_config(CONFIGS / "bundled" / "03_pose_guided_decoder.toml") == pose_guided
    sharp = load_fit_config(CONFIGS / "bundled" / "09_decoder_128.toml")
    assert sharp.model == replace(pose_guided.model, decoder_resize_conv=True, decoder_image_size=128,
                                  decoder_widths=(192, 128, 96, 64, 32, 24), decoder_residual_upto=64)
    assert sharp.model.output_size == 128 and sharp.init.modules == modules and sharp.trainer.cpu_bf16


def test_the_real_photo_configs_embed_only_the_image_encoder_with_switchable_levers() -> None:
    real = load_fit_config(CONFIGS / "experiments" / "real_photos_heatmap_head.toml")
    bundled = load_fit_config(CONFIGS / "bundled" / "06_pose_cycle_3.toml")
    assert real.schedule.disentangle_steps == 0 and real.schedule.embed_steps > 0
    assert real.init.weights == "runs/bundled/06_pose_cycle_3/model.safetensors"
    assert replace(real.model, keypoint_heatmap_size=0) == bundled.model and real.model.keypoint_heatmap_size == 16
    assert real.data.synthetic.augment.amplitude_mix_probability == 0.5
    assert real.data.synthetic.occluders.probability == 0.3
    assert real.embed.heatmap_weight > 0
    groups = EmbeddingObjective(real.embed).param_groups(DVAE(real.model), real.optimizer.lr)
    assert [g["name"] for g in groups] == ["image_encoder"]  # decoders and label networks frozen
    ablation = load_fit_config(CONFIGS / "bundled" / "07_real_photos.toml")
    assert ablation == replace(real, model=bundled.model, init=replace(real.init, modules=()),
                               embed=replace(real.embed, heatmap_weight=0.0))


def test_tables_merge_over_the_base_and_lists_replace(tmp_path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "root.toml").write_text(
        "[model]\nimage_size = 64\nencoder_widths = [32, 48, 96, 160]\n[trainer]\nlog_every = 7\n")
    (tmp_path / "base" / "mid.toml").write_text(
        'extends = "root.toml"\n[model]\nmlp_hidden = 64\n[data]\nbatch_size = 4\n')
    path = write(tmp_path, 'extends = "base/mid.toml"\n[model]\nencoder_widths = [8, 8, 8, 8]\n[data]\nseed = 3\n')
    config = load_fit_config(path)
    assert (config.model.image_size, config.model.mlp_hidden, config.model.encoder_widths) == (64, 64, (8, 8, 8, 8))
    assert (config.data.batch_size, config.data.seed, config.trainer.log_every) == (4, 3, 7)


@pytest.mark.parametrize("files, message", [
    ({"run.toml": 'extends = "gone.toml"\n'}, r"run.toml: extends 'gone.toml', but .*gone.toml is not a file"),
    ({"run.toml": 'extends = "run.toml"\n'}, r"run.toml: extends 'run.toml', which extends back to it"),
    ({"run.toml": 'extends = "a.toml"\n', "a.toml": 'extends = "run.toml"\n'},
     r"a.toml: extends 'run.toml', which extends back to it \(.*run.toml -> .*a.toml -> .*run.toml\)"),
    ({"run.toml": "extends = 3\n"}, r"run.toml: 'extends' must be a file name, got 3"),
    ({"run.toml": 'extends = "a.toml"\n', "a.toml": "[data\n"}, r"a.toml: not valid TOML"),
])
def test_a_missing_or_circular_base_is_named(tmp_path, files, message) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_fit_config(tmp_path / "run.toml")


@pytest.mark.parametrize("name", sorted(str(p.relative_to(CONFIGS)) for p in CONFIGS.rglob("*.toml")))
def test_a_run_folder_gets_a_config_that_needs_no_base(tmp_path, name) -> None:
    write_run_config(CONFIGS / name, tmp_path / "config.toml")
    text = (tmp_path / "config.toml").read_text()
    extends = "extends" in tomllib.loads((CONFIGS / name).read_text())
    assert extends == (name not in ("bundled/01_plain.toml", "default.toml", "tiny.toml"))  # the three bases
    assert (text == (CONFIGS / name).read_text()) == (not extends)  # a plain copy when it extends nothing
    assert "extends =" not in text
    assert load_fit_config(tmp_path / "config.toml") == load_fit_config(CONFIGS / name)
    assert tomllib.loads(to_toml(read_toml(CONFIGS / name))) == read_toml(CONFIGS / name)


def test_the_defaults_are_what_the_shipped_configs_use(tmp_path) -> None:
    empty = load_fit_config(write(tmp_path, ""))
    assert empty == FitConfig()
    assert empty.trainer.grad_clip == 5.0 and empty.trainer.device == "auto"  # train.fit's, not TrainerConfig's
    assert empty.model.colour_paths is True
    assert empty.disentangle.labels.handedness == empty.embed.labels.handedness == 1.0
