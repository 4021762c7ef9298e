"""``CombinedFinder``: the hands a packaged detector finds first, then the project finder's others.

MediaPipe Hands (``core.finder.mediapipe_hands``, trained on real photos) misses some hands but
seldom boxes something that is not one; the project's finder (``core.finder.finder``, trained on
renders) finds hands MediaPipe misses but also boxes faces and bright spots. So the packaged
detector's boxes come first (the app frames the first box when a photo opens) and the finder's
follow, less any that overlaps one of them (one hand, two boxes). On the fixture photos the
combination finds more hands, and puts its first box on a hand more often, than either alone
(docs/results.md, "Finding hands in whole photos").
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np

from core.finder.boxes import Detection, box_iou
from core.finder.config import MAX_HANDS
from core.finder.finder import HandFinder
from core.finder.mediapipe_hands import MediaPipeHands, mediapipe_available

SAME_HAND_IOU = 0.3  # a finder box overlapping a packaged detector's box by more is the same hand


class Finds(Protocol):
    """Anything that finds hands: ``find(image (H, W, 3) uint8 RGB) -> list[Detection]``, best first."""

    def find(self, image: np.ndarray) -> list[Detection]: ...


class CombinedFinder:
    """``find(image)``: ``first``'s detections (best first), then ``second``'s (best first) that
    overlap none of them by more than ``SAME_HAND_IOU``; at most ``max_hands``.

    Scores keep their sources' meanings; a ``second`` box never scores above a ``first`` one
    (it is capped at the lowest ``first`` score), so the list stays sorted by score.
    """

    def __init__(self, first: Finds, second: Finds, max_hands: int = MAX_HANDS) -> None:
        self.first, self.second, self.max_hands = first, second, max_hands

    def find(self, image: np.ndarray) -> list[Detection]:
        """Hands in ``image`` (H, W, 3) uint8 RGB, best first; [] for none (each finder checks the
        image, ``core.api_checks.check_photo``)."""
        primary = sorted(self.first.find(image), key=lambda d: -d.score)
        cap = min((d.score for d in primary), default=1.0)
        rest = [d for d in sorted(self.second.find(image), key=lambda d: -d.score)
                if all(box_iou(d.box, p.box) <= SAME_HAND_IOU for p in primary)]
        rest = [d if d.score <= cap else replace(d, score=cap) for d in rest]
        return (primary + rest)[: self.max_hands]


def default_finder(threads: int | None = 1) -> Finds:
    """The bundled finder (``assets/hand_finder.safetensors``, ``FileNotFoundError`` when absent)
    after MediaPipe Hands where ``mediapipe`` is installed; the bundled finder alone otherwise."""
    return make_finder(None, use_mediapipe=mediapipe_available(), threads=threads)


def make_finder(path: str | Path | None = None, use_mediapipe: bool = True, use_finder: bool = True,
                threads: int | None = 1) -> Finds:
    """MediaPipe Hands, the project's finder at ``path`` (None: the bundled one), or both
    (``CombinedFinder``); ``ImportError`` when MediaPipe is asked for and not installed."""
    if not (use_mediapipe or use_finder):
        raise ValueError("make_finder: ask for MediaPipe, the project's finder, or both")
    if use_mediapipe and not mediapipe_available():
        raise ImportError("MediaPipe Hands is not installed (pip install mediapipe==0.10.14, Python < 3.13)")
    finder = HandFinder.load(path) if use_finder else None
    if finder is not None:
        finder.threads = threads
    if not use_mediapipe:
        return finder
    limit = finder.config.max_hands if finder is not None else MAX_HANDS
    library = MediaPipeHands(max_hands=limit)
    return library if finder is None else CombinedFinder(library, finder, limit)
