"""Runs model calls on one worker thread, newest request per key wins (the window's
``app.jobs.Runner``; tests and scripts can give the session ``app.jobs.SyncRunner`` instead).

The GUI thread never waits for the model: it ``submit``s a job under a key ("decode", "pose",
...). A job still waiting under the same key is replaced (so a dragged slider coalesces into
one decode per finished frame), jobs run one at a time in submission order, and the result is
handed to ``on_done`` on the GUI thread through a queued Qt signal. Errors go to ``on_error``.
"""
from __future__ import annotations

import queue
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal


@dataclass
class _Job:
    key: str
    work: Callable[[], Any]
    on_done: Callable[[Any], None]
    on_error: Callable[[str], None] | None


class _Worker(QThread):
    def __init__(self, runner: "ModelRunner") -> None:
        super().__init__()
        self._runner = runner

    def run(self) -> None:
        runner = self._runner
        while True:
            with runner._cond:
                while not runner._pending and not runner._stopping:
                    runner._cond.wait()
                if runner._stopping:
                    return
                key = next(iter(runner._pending))
                job = runner._pending.pop(key)
                runner._undelivered += 1
            try:
                result, error = job.work(), None
            except Exception as err:  # the app reports it and carries on
                result, error = None, f"{type(err).__name__}: {err}"
                traceback.print_exc()
            # Results travel through a queue, not as signal arguments: queued signals carrying
            # Python objects corrupt reference counts in PySide6 6.12. The signal only wakes the
            # GUI thread.
            runner._results.put((job, result, error))
            runner._finished.emit()


class ModelRunner(QObject):
    """One worker thread for all model calls (the model is not shared between threads)."""

    _finished = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition()
        self._pending: dict[str, _Job] = {}
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._undelivered = 0  # jobs taken by the worker whose result is not delivered yet
        self._stopping = False
        self._finished.connect(self._deliver)
        self._worker = _Worker(self)
        self._worker.start()

    def submit(self, key: str, work: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None] | None = None) -> None:
        """Queue ``work()``; a job waiting under ``key`` is dropped in its favour."""
        with self._cond:
            self._pending.pop(key, None)
            self._pending[key] = _Job(key, work, on_done, on_error)
            self._cond.notify()

    def is_idle(self) -> bool:
        with self._cond:
            return not self._pending and self._undelivered == 0

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Process events until every queued job has run and delivered (for CLI modes and tests)."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            QCoreApplication.processEvents()
            if self.is_idle():
                QCoreApplication.processEvents()
                if self.is_idle():
                    return True
            time.sleep(0.001)
        return False

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._pending.clear()
            self._cond.notify()
        self._worker.wait(10_000)

    def _deliver(self) -> None:
        while True:
            try:
                job, result, error = self._results.get_nowait()
            except queue.Empty:
                return
            try:
                if error is None:
                    job.on_done(result)
                elif job.on_error is not None:
                    job.on_error(error)
            finally:
                with self._cond:
                    self._undelivered -= 1
