"""Undo/redo of every edit, as snapshots of the editable document (latent + 3D pose). No Qt."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.events import Signal
from app.hand_pose import HandPose


@dataclass(frozen=True)
class Snapshot:
    """The document after one edit; ``label`` names the edit ("move slider", "drag joint", ...)."""

    latent: np.ndarray
    hand: HandPose | None
    confidence: np.ndarray | None
    label: str


class History:
    """A linear list of snapshots and a cursor: undo/redo move the cursor and return its snapshot."""

    def __init__(self, limit: int = 200) -> None:
        self._snapshots: list[Snapshot] = []
        self._cursor = -1
        self._limit = limit
        self._run: str | None = None  # the run the last snapshot belongs to (see ``record``)
        self.changed = Signal()

    def record(self, snapshot: Snapshot, run: str | None = None) -> None:
        """Append the state after an edit, dropping any redo branch.

        ``run`` names a run of small edits that undo as one step: an edit of the same run as the
        last one recorded (nothing undone since) replaces that snapshot. A held key or a mouse held
        on a slider's groove moves it 0.1 at a time; 30 of those are one edit to the user.
        """
        if run is not None and run == self._run and self._cursor == len(self._snapshots) - 1 and self._cursor > 0:
            self._snapshots[self._cursor] = snapshot
            self.changed.emit()
            return
        self._run = run
        del self._snapshots[self._cursor + 1 :]
        self._snapshots.append(snapshot)
        if len(self._snapshots) > self._limit:
            del self._snapshots[0]
        self._cursor = len(self._snapshots) - 1
        self.changed.emit()

    def can_undo(self) -> bool:
        return self._cursor > 0

    def can_redo(self) -> bool:
        return self._cursor < len(self._snapshots) - 1

    def undo_label(self) -> str:
        return self._snapshots[self._cursor].label if self.can_undo() else ""

    def redo_label(self) -> str:
        return self._snapshots[self._cursor + 1].label if self.can_redo() else ""

    def undo(self) -> Snapshot | None:
        """The snapshot before the last edit (None when there is nothing to undo)."""
        if not self.can_undo():
            return None
        self._run = None
        self._cursor -= 1
        self.changed.emit()
        return self._snapshots[self._cursor]

    def redo(self) -> Snapshot | None:
        if not self.can_redo():
            return None
        self._run = None
        self._cursor += 1
        self.changed.emit()
        return self._snapshots[self._cursor]

    def clear(self) -> None:
        self._snapshots.clear()
        self._cursor, self._run = -1, None
        self.changed.emit()
