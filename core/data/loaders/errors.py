"""The one error every dataset loader raises for bad input, and the record of skipped samples."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class DatasetError(Exception):
    """A dataset file is missing, unreadable, truncated, malformed, or shows no hand.

    ``path`` names the offending file (or folder), ``problem`` says what is wrong with it.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class SkippedSample:
    """A sample left out because of a ``DatasetError`` (datasets built with ``skip_bad=True``).

    index: the sample's position in the dataset's source list (before skipping), or -1 when
        the problem concerned no single sample.
    """

    index: int
    path: str
    problem: str

    @classmethod
    def from_error(cls, index: int, error: DatasetError) -> "SkippedSample":
        return cls(index, error.path, error.problem)
