"""How the session hands model calls to a worker: the ``Runner`` protocol, and ``SyncRunner``.

``Session`` only ever calls ``runner.submit(key, work, on_done, on_error)``. The window gives it
``app.runner.ModelRunner`` (one Qt worker thread, newest job per key, results delivered on the
GUI thread); ``SyncRunner`` runs each job at once on the calling thread, so the session (and a
script) works without Qt, a window or an event loop. No Qt here.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol


class Runner(Protocol):
    """Runs ``work()`` somewhere and hands its result to ``on_done`` (or an error message to
    ``on_error``) on the caller's thread. A job still waiting under ``key`` may be dropped in
    favour of the new one; jobs deliver in submission order."""

    def submit(self, key: str, work: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None] | None = None) -> None: ...


class SyncRunner:
    """A ``Runner`` that runs every job when it is submitted and delivers before returning.

    Nothing waits, so nothing is ever dropped; ``keys`` lists the submitted keys in order (tests
    read it). An exception in ``work`` goes to ``on_error`` as ``"Type: message"``, as with
    ``ModelRunner``; one in ``on_done`` propagates to the caller.
    """

    def __init__(self) -> None:
        self.keys: list[str] = []

    def submit(self, key: str, work: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None] | None = None) -> None:
        self.keys.append(key)
        try:
            result = work()
        except Exception as err:  # reported like ModelRunner's worker reports it
            if on_error is not None:
                on_error(f"{type(err).__name__}: {err}")
            return
        on_done(result)
