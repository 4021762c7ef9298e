"""Old command names that keep working: ``python -m train.real_eval`` and the like run the command
at its new place (``train.evaluate``, ``train.hand_finder``) after one line saying where it moved."""
from __future__ import annotations

import runpy
import sys


def run_moved(old: str, new: str) -> None:
    """Say on stderr that ``python -m old`` is now ``python -m new``, then run ``new`` as __main__
    with the same arguments (its exit status is the command's)."""
    print(f"note: python -m {old} is now python -m {new}; the old name keeps working", file=sys.stderr)
    runpy.run_module(new, run_name="__main__", alter_sys=True)
