"""Pose transfer state: source A gives the content, source B the pose. No Qt.

Each source is the opened photo, a random sample, the current edit, or a source "kept" earlier
(so two photos can be compared: keep the first, open the second); ``result`` is the image
synthesised from A's content and B's pose and viewpoint (``ModelService.transfer``).
"""
from __future__ import annotations

import cv2
import numpy as np

from app.events import Signal

SOURCE_KINDS = ("photo", "sample", "edit", "kept")
SLOTS = ("A", "B")


class TransferState:
    """Which source each slot uses, each slot's random sample, and the last images."""

    def __init__(self, dim: int, rng: np.random.Generator) -> None:
        self.kinds: dict[str, str] = {"A": "sample", "B": "edit"}
        self.samples: dict[str, np.ndarray] = {s: rng.standard_normal(dim) for s in SLOTS}
        # slot -> (latent (D,), image (S, S, 3) or None to decode, label)
        self.kept: dict[str, tuple[np.ndarray, np.ndarray | None, str]] = {}
        self.images: dict[str, np.ndarray | None] = {"A": None, "B": None, "result": None}
        self.sources_changed = Signal()
        self.images_changed = Signal()

    def set_kind(self, slot: str, kind: str) -> None:
        if kind not in SOURCE_KINDS:
            raise ValueError(f"transfer source must be one of {SOURCE_KINDS}, got {kind!r}")
        self.kinds[slot] = kind
        self.sources_changed.emit()

    def new_sample(self, slot: str, rng: np.random.Generator) -> None:
        self.samples[slot] = rng.standard_normal(self.samples[slot].shape[0])
        self.sources_changed.emit()

    def keep(self, slot: str, latent: np.ndarray, image: np.ndarray | None, label: str) -> None:
        """Fix ``slot`` to this source, whatever the photo or the edit become later."""
        self.kept[slot] = (np.array(latent), None if image is None else np.array(image), label)
        self.kinds[slot] = "kept"
        self.sources_changed.emit()

    def swap(self) -> None:
        """A becomes B and B becomes A (kinds, samples and kept sources)."""
        self.kinds = {"A": self.kinds["B"], "B": self.kinds["A"]}
        self.samples = {"A": self.samples["B"], "B": self.samples["A"]}
        self.kept = {{"A": "B", "B": "A"}[slot]: source for slot, source in self.kept.items()}
        self.sources_changed.emit()

    def set_images(self, a: np.ndarray, b: np.ndarray, result: np.ndarray) -> None:
        self.images = {"A": a, "B": b, "result": result}
        self.images_changed.emit()

    def composite(self, height: int = 256) -> np.ndarray:
        """A | B | result side by side, each resized to ``height`` (H, 3H + gaps, 3) uint8 RGB."""
        if any(self.images[k] is None for k in ("A", "B", "result")):
            raise ValueError("run the transfer first: there is no result to export yet")
        gap = np.full((height, 8, 3), 255, np.uint8)
        tiles = []
        for key, caption in (("A", "content A"), ("B", "pose B"), ("result", "result")):
            tile = cv2.resize(self.images[key], (height, height), interpolation=cv2.INTER_AREA)
            cv2.putText(tile, caption, (6, height - 8), cv2.FONT_HERSHEY_SIMPLEX, height / 512, (255, 255, 255),
                        max(1, height // 256), cv2.LINE_AA)
            tiles += [tile, gap]
        return np.concatenate(tiles[:-1], axis=1)
