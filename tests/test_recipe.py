"""A model says how it was made: ``train.fit`` writes the recipe (stage configs, steps, commit) into
every model it exports, a run started from another model's weights extends that model's recipe,
``HandModel.save`` and ``train.bundle`` keep it, and the bundled recipe is configs/bundled/ in order."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from core.api import DEFAULT_MODEL_PATH, HandModel
from core.checkpoint import save_model
from core.models.config import DVAEConfig
from train import bundle
from train.config import load_fit_config
from train.fit import FitRun, init_weights_path, prepare_run_dir
from train.recipe import NOT_RECORDED, read_run_recipe, stage

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted((ROOT / "configs" / "bundled").glob("*.toml"))


def _args(**overrides) -> argparse.Namespace:
    return argparse.Namespace(**{"config": None, "resume": None, "out": None, "device": "cpu", **overrides})


def test_a_run_extends_the_recipe_of_the_model_it_starts_from(tmp_path) -> None:
    earlier = [{"config": "configs/first.toml", "disentangle_steps": 3, "embed_steps": 0, "commit": "abc1234"}]
    tiny = load_fit_config(ROOT / "configs" / "tiny.toml").model
    init = save_model(tmp_path / "first" / "model.safetensors", HandModel.untrained(tiny).model, step=3,
                      extra={"recipe": earlier})
    config = tmp_path / "second.toml"
    config.write_text((ROOT / "configs" / "tiny.toml").read_text() + f'\n[init]\nweights = "{init.as_posix()}"\n')
    loaded, run_dir = prepare_run_dir(_args(config=config, out=tmp_path / "run"))
    FitRun(loaded, run_dir, source=config.as_posix())
    recipe = read_run_recipe(run_dir)
    assert recipe[0] == earlier[0] and len(recipe) == 2
    assert recipe[1]["config"] == config.as_posix()
    assert (recipe[1]["disentangle_steps"], recipe[1]["embed_steps"]) == (8, 8)
    assert re.fullmatch(r"[0-9a-f]{7,}(\+changes)?|unknown", recipe[1]["commit"])
    # resuming keeps the recipe the run started with
    (run_dir / "checkpoints").mkdir()
    FitRun(*prepare_run_dir(_args(resume=run_dir)), source="another.toml")
    assert read_run_recipe(run_dir) == recipe


def test_a_run_the_app_starts_says_it_came_from_the_train_dialog(tmp_path) -> None:
    from app.training import TrainingRequest, make_fit_run

    run = make_fit_run(TrainingRequest(steps=1, device="cpu", run_dir=str(tmp_path)))
    recipe = read_run_recipe(run.run_dir)
    assert [s["config"] for s in recipe] == ["the app's Train dialog, base configs/tiny.toml"]


def test_save_and_bundle_keep_the_recipe_and_stages_name_it_for_an_older_model(tmp_path, capsys) -> None:
    plain = HandModel.untrained(DVAEConfig.tiny()).save(tmp_path / "plain.safetensors")
    assert HandModel.load(plain).recipe == []
    stages = [str(p) for p in BUNDLED[:2]]
    target = tmp_path / "bundled.safetensors"
    assert bundle.main(["model", str(plain), "--to", str(target), "--stages", *stages]) == 0
    recipe = HandModel.load(target).recipe
    assert [s["config"] for s in recipe] == stages and {s["commit"] for s in recipe} == {NOT_RECORDED}
    again = tmp_path / "again.safetensors"
    assert bundle.main(["model", str(target), "--to", str(again)]) == 0
    assert HandModel.load(again).recipe == recipe  # kept through load and save
    assert bundle.main(["model", str(target), "--to", str(tmp_path / "x.safetensors"), "--stages", stages[0]]) == 2
    assert "already says how it was made" in capsys.readouterr().err


def test_each_bundled_stage_starts_from_the_one_before_it() -> None:
    assert [p.name[:3] for p in BUNDLED] == [f"{i:02d}_" for i in range(1, len(BUNDLED) + 1)]
    assert load_fit_config(BUNDLED[0]).init.weights == ""  # the first stage starts from nothing
    for before, after in zip(BUNDLED, BUNDLED[1:]):
        assert init_weights_path(load_fit_config(after).init) == Path(f"runs/bundled/{before.stem}/model.safetensors")


def test_the_bundled_model_says_how_it_was_made() -> None:
    recipe = HandModel.load(DEFAULT_MODEL_PATH).recipe
    assert [s["config"] for s in recipe] == [f"configs/bundled/{p.name}" for p in BUNDLED]
    for step, path in zip(recipe, BUNDLED):
        assert step == stage(f"configs/bundled/{path.name}", load_fit_config(path), step["commit"])
