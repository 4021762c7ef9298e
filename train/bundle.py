"""Bundle a trained model or hand finder: the one command that writes into ``assets/``.

    python -m train.bundle model runs/NAME/model.safetensors             # -> assets/default_model.safetensors
    python -m train.bundle finder runs/hand_finder/hand_finder.safetensors  # -> assets/hand_finder.safetensors

Training commands (``train.fit``, ``train.hand_finder.training``) write only to their run folder, so no run
replaces what the app opens by default; this is the separate, explicit step that does. The file is
checked (it must be a model, or a finder, that loads) and written in float16, as the bundle ships.
``--to PATH`` writes elsewhere instead (to compare before replacing). Exit status 2 when the file
cannot be used; the bundled file is then left as it was.

A model keeps the recipe ``train.fit`` wrote into it (``HandModel.recipe``: the stage configs, their
steps and commits). For a model trained before recipes were written, ``--stages CONFIG ...`` names
the stage configs that made it, in order (their commits are then "not recorded").
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from core.api import DEFAULT_MODEL_PATH, HandModel
from core.checkpoint import CheckpointError
from core.cli_args import Parser
from core.config_io import ConfigError
from core.finder.finder import DEFAULT_FINDER_PATH, HandFinder
from train.recipe import recipe_from_configs

BUNDLED = {"model": DEFAULT_MODEL_PATH, "finder": DEFAULT_FINDER_PATH}


def bundle(kind: str, source: Path, target: Path, stages: Sequence[Path] = ()) -> Path:
    """Load ``source`` as a ``kind`` ("model" or "finder") and write it in float16 to ``target``;
    ``stages``: the stage configs that made a model that carries no recipe.

    Raises ``CheckpointError`` / ``FileNotFoundError`` / ``ConfigError`` before anything is written."""
    if source.resolve() == target.resolve():
        raise CheckpointError(f"{source} is the file it would be written to")
    if stages and kind != "model":
        raise ConfigError("--stages is for a model; a finder carries no recipe")
    loaded = HandModel.load(source) if kind == "model" else HandFinder.load(source)
    if stages:
        if loaded.recipe:
            raise ConfigError(f"{source} already says how it was made ({len(loaded.recipe)} stages); drop --stages")
        loaded.meta.extra["recipe"] = recipe_from_configs(list(stages))
    target.parent.mkdir(parents=True, exist_ok=True)
    return loaded.save(target, half=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(prog="python -m train.bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=tuple(BUNDLED), help="model: the pose/synthesis model; finder: the hand finder")
    parser.add_argument("source", type=Path, help="the trained file (a run folder's model.safetensors or "
                                                   "hand_finder.safetensors)")
    parser.add_argument("--to", type=Path, help="write here instead of the bundled file in assets/")
    parser.add_argument("--stages", type=Path, nargs="+", default=(), metavar="CONFIG",
                        help="for a model trained before recipes were written: the stage configs that made it, "
                             "in order (e.g. configs/bundled/*.toml)")
    args = parser.parse_args(argv)
    target = args.to if args.to is not None else BUNDLED[args.kind]
    try:
        written = bundle(args.kind, args.source, target, args.stages)
    except (FileNotFoundError, CheckpointError, ConfigError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"bundled {args.source} as {written} (float16)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
