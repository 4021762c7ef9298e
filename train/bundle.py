"""Bundle a trained model or hand finder: the one command that writes into ``assets/``.

    python -m train.bundle model runs/NAME/model.safetensors             # -> assets/default_model.safetensors
    python -m train.bundle finder runs/hand_finder/hand_finder.safetensors  # -> assets/hand_finder.safetensors

Training commands (``train.fit``, ``train.hand_finder``) write only to their run folder, so no run
replaces what the app opens by default; this is the separate, explicit step that does. The file is
checked (it must be a model, or a finder, that loads) and written in float16, as the bundle ships.
``--to PATH`` writes elsewhere instead (to compare before replacing). Exit status 2 when the file
cannot be used; the bundled file is then left as it was.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from core.api import DEFAULT_MODEL_PATH, HandModel
from core.checkpoint import CheckpointError
from core.cli_args import Parser
from core.finder.finder import DEFAULT_FINDER_PATH, HandFinder

BUNDLED = {"model": DEFAULT_MODEL_PATH, "finder": DEFAULT_FINDER_PATH}


def bundle(kind: str, source: Path, target: Path) -> Path:
    """Load ``source`` as a ``kind`` ("model" or "finder") and write it in float16 to ``target``.

    Raises ``CheckpointError`` / ``FileNotFoundError`` before anything is written."""
    if source.resolve() == target.resolve():
        raise CheckpointError(f"{source} is the file it would be written to")
    loaded = HandModel.load(source) if kind == "model" else HandFinder.load(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    return loaded.save(target, half=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = Parser(prog="python -m train.bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=tuple(BUNDLED), help="model: the pose/synthesis model; finder: the hand finder")
    parser.add_argument("source", type=Path, help="the trained file (a run folder's model.safetensors or "
                                                   "hand_finder.safetensors)")
    parser.add_argument("--to", type=Path, help="write here instead of the bundled file in assets/")
    args = parser.parse_args(argv)
    target = args.to if args.to is not None else BUNDLED[args.kind]
    try:
        written = bundle(args.kind, args.source, target)
    except (FileNotFoundError, CheckpointError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"bundled {args.source} as {written} (float16)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
