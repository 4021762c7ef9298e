"""A minimal signal for plain-Python state objects (the napari pattern).

State objects in ``app`` hold data and emit :class:`Signal` when it changes; Qt widgets connect
to them to redraw and call the state's methods to forward user input. The state layer therefore
runs (and is tested) without a QApplication. Signals are emitted and handled on the GUI thread:
work done elsewhere comes back through ``app.runner.ModelRunner`` first.
"""
from __future__ import annotations

from typing import Any, Callable


class Signal:
    """A list of callbacks called in connection order by :meth:`emit`."""

    def __init__(self) -> None:
        self._slots: list[Callable[..., Any]] = []

    def connect(self, slot: Callable[..., Any]) -> None:
        self._slots.append(slot)

    def disconnect(self, slot: Callable[..., Any]) -> None:
        self._slots.remove(slot)

    def emit(self, *args: Any) -> None:
        for slot in list(self._slots):
            slot(*args)
