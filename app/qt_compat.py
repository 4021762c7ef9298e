"""A guard against a reference-counting bug of PySide6 6.12.0 on Python < 3.12.

Measured here (PySide6-Essentials 6.12.0, CPython 3.11.7): every call of a Python slot or of a
Python override of a Qt virtual (``paintEvent``...) drops one reference to ``None`` that it
never took, and every signal emission one to ``True``. None starts with ~5,000 references, so
an app dies with "Fatal Python error: none_dealloc" after a few seconds of mouse movement.
6.11.3 does not do it, and from Python 3.12 on None/True/False are immortal (PEP 683).

The proper fix is a PySide6 other than 6.12.0 (the project pins ``!=6.12.0``). Where the buggy
combination is installed anyway, :func:`install_refcount_guard` keeps a reserve of references
to the three singletons and a daemon thread tops it up, so the lost references come out of the
reserve instead of freeing the singletons.
"""
from __future__ import annotations

import sys
import threading
import time

AFFECTED_VERSIONS = ("6.12.0",)
_RESERVE = 1_000_000
_PERIOD_S = 0.02
_installed = False


def is_affected() -> bool:
    import PySide6

    return sys.version_info < (3, 12) and PySide6.__version__ in AFFECTED_VERSIONS


def install_refcount_guard(announce: bool = True) -> bool:
    """Start the guard if this PySide6/Python pair needs it; True if it runs. Idempotent.

    ``announce`` prints a one-line note on stderr when the guard starts.
    """
    global _installed
    if _installed or not is_affected():
        return _installed
    singletons = (None, True, False)
    reserve = {id(obj): [obj] * _RESERVE for obj in singletons}
    targets = {id(obj): sys.getrefcount(obj) for obj in singletons}

    def top_up() -> None:
        while True:
            for obj in singletons:
                deficit = targets[id(obj)] - sys.getrefcount(obj)
                if deficit > 0:
                    reserve[id(obj)].extend([obj] * deficit)
            time.sleep(_PERIOD_S)

    threading.Thread(target=top_up, name="pyside-refcount-guard", daemon=True).start()
    _installed = True
    if announce:
        print("note: PySide6 6.12.0 on Python < 3.12 loses references to None/True/False; a guard "
              "compensates. Install another PySide6 version (e.g. 6.11.3) to avoid it.", file=sys.stderr)
    return True
