"""dvae-hands core: hand model, data, the dVAE and its Python API (no Qt here).

``from core import HandModel`` imports the API (and torch) on first use only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.api import HandModel


def __getattr__(name: str) -> Any:
    if name == "HandModel":
        from core.api import HandModel

        return HandModel
    raise AttributeError(f"module 'core' has no attribute {name!r}")


__all__ = ["HandModel"]
