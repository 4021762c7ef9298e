"""Playing a latent walk: the frames, the position in them and the timer that steps them.

The latent panel only chooses the walk and starts or stops it; the player sets each frame on
the ``LatentState`` (source "walk") and commits one undo step when it stops. ``playing_changed``
(a plain signal with the new state) lets any widget follow.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer

from app.events import Signal
from app.state import LatentState

WALK_INTERVAL_MS = 40


class WalkPlayer(QObject):
    """Steps ``latent`` through (T, D) frames, looping, every ``interval_ms``; ``commit(label)``
    records the latent shown as one undo step."""

    def __init__(self, latent: LatentState, commit: Callable[[str], None], interval_ms: int = WALK_INTERVAL_MS) -> None:
        super().__init__()
        self.latent = latent
        self._commit = commit
        self.frames: np.ndarray | None = None
        self.index = 0
        self.playing_changed = Signal()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.step)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def play(self, frames: np.ndarray) -> None:
        """Start (or restart) playing ``frames`` (T, D) from the first."""
        self.frames, self.index = np.asarray(frames, np.float64), 0
        was_playing = self.playing
        self._timer.start()
        if not was_playing:
            self.playing_changed.emit(True)

    def stop(self) -> None:
        """Stop where the walk is; the latent shown becomes one undo step. No-op when stopped."""
        if not self.playing:
            return
        self._timer.stop()
        self._commit("walk")
        self.playing_changed.emit(False)

    def step(self) -> None:
        """Show the next frame; stops when the frames no longer fit the model (another layout)."""
        if self.frames is None or self.frames.shape[1] != self.latent.dim:
            self.stop()
            return
        self.latent.set(self.frames[self.index % len(self.frames)], "walk")
        self.index += 1
