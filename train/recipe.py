"""How a model was made: the training stages that led to it, carried in its checkpoint.

A recipe is a list of stages, oldest first, each a dict ``{"config": path of the stage's config,
"disentangle_steps": int, "embed_steps": int, "commit": the project's commit it was trained at}``.
``train.fit`` writes it into every ``model.safetensors`` it exports (``meta.extra["recipe"]``): the
recipe of the model its ``[init]`` starts from, plus its own stage. ``HandModel.save`` keeps it, so
the bundled model (``train.bundle``) says how it was made; ``HandModel.recipe`` reads it.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from core.checkpoint import CheckpointError, read_meta
from train.config import FitConfig, load_fit_config

RECIPE_FILE = "recipe.json"  # in a run folder: the recipe its exports carry (written when the run starts)
NOT_RECORDED = "not recorded"  # the commit of a stage trained before recipes were written


def project_commit() -> str:
    """The project's commit (short hash, ``+changes`` when the work tree differs from it), or
    "unknown" outside a git checkout."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def stage(config_path: Path | str, config: FitConfig, commit: str) -> dict[str, Any]:
    """One stage of a recipe: the config file it was trained with, its steps and the commit."""
    return {"config": Path(config_path).as_posix(), "disentangle_steps": config.schedule.disentangle_steps,
            "embed_steps": config.schedule.embed_steps, "commit": commit}


def recipe_of(model_path: Path | str) -> list[dict[str, Any]]:
    """The recipe a model file carries ([] when it carries none)."""
    return list(read_meta(model_path).extra.get("recipe", []))


def start_recipe(config_path: Path | str, config: FitConfig, init_path: Path | None) -> list[dict[str, Any]]:
    """The recipe of a run that starts now: its ``[init]`` model's recipe, then this stage."""
    try:
        earlier = recipe_of(init_path) if init_path is not None else []
    except (CheckpointError, FileNotFoundError, OSError):
        earlier = []  # load_init_weights names the problem with the file
    return earlier + [stage(config_path, config, project_commit())]


def write_run_recipe(run_dir: Path, recipe: list[dict[str, Any]]) -> None:
    (run_dir / RECIPE_FILE).write_text(json.dumps(recipe, indent=1) + "\n")


def read_run_recipe(run_dir: Path) -> list[dict[str, Any]]:
    """The run folder's recipe ([] for a run started before recipes were written)."""
    path = run_dir / RECIPE_FILE
    return json.loads(path.read_text()) if path.is_file() else []


def recipe_from_configs(paths: list[Path]) -> list[dict[str, Any]]:
    """A recipe for a model trained before recipes were written: its stage configs in order, their
    steps as the configs give them, the commits not recorded."""
    return [stage(p, load_fit_config(p), NOT_RECORDED) for p in paths]
