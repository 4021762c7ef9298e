"""Semi- and weak supervision as small wrappers over ``HandBatch`` sources.

- ``ThinLabels``: keeps full labels on a fraction of the samples, only 2D keypoints on another
  fraction (weak supervision), and clears every label of the rest (unlabelled images, the
  semi-supervised ELBO). Which samples lose what is a fixed function of ``(seed, sample index)``,
  so a sample keeps its status across epochs and resumed runs.
- ``MixBatches``: concatenates a batch of a labelled source with a batch of an unlabelled one
  (real photos without labels), e.g. 24 + 8 rows for a labelled fraction of 0.75.

Both pass ``state_dict`` / ``load_state_dict`` through, so wrapped sources stay resumable.
"""
from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Iterator

import numpy as np
import torch

from core.data.sample import HandBatch


def sample_uniforms(index: torch.Tensor, seed: int) -> torch.Tensor:
    """A uniform number in [0, 1) per sample, a fixed hash of (seed, index). (B,) -> (B,) float64."""
    x = index.detach().cpu().numpy().astype(np.uint64) ^ np.uint64((seed * 0x9E3779B97F4A7C15) % 2**64)
    # splitmix64 finaliser: well mixed even for consecutive indices
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return torch.from_numpy((x >> np.uint64(11)).astype(np.float64) / float(2**53))


def clear_labels(batch: HandBatch, rows: torch.Tensor, keep_2d: bool) -> HandBatch:
    """Remove labels from ``rows`` (B,) bool: 3D keypoints and the content tag always; the 2D
    keypoints, visibility and mask too unless ``keep_2d``. Cleared fields are zero-filled."""
    rows = rows.to(batch.image.device)

    def cleared(value: torch.Tensor) -> torch.Tensor:
        shape = (-1,) + (1,) * (value.dim() - 1)
        return torch.where(rows.view(shape), torch.zeros_like(value), value)

    changes = {
        "keypoints_3d": cleared(batch.keypoints_3d), "has_3d": batch.has_3d & ~rows,
        "content": cleared(batch.content), "appearance": cleared(batch.appearance),
        "has_content": batch.has_content & ~rows,
    }
    if not keep_2d:
        changes.update(keypoints_2d=cleared(batch.keypoints_2d), visible=cleared(batch.visible),
                       mask=cleared(batch.mask), has_2d=batch.has_2d & ~rows)
    return replace(batch, **changes)


class ThinLabels(Iterator[HandBatch]):
    """Wraps a labelled source: per sample u = hash(seed, index) in [0, 1);
    u < weak_fraction -> 2D keypoints only; u >= labelled_fraction -> unlabelled; else unchanged.

    ``weak_fraction`` counts among the labelled samples: 0 <= weak <= labelled <= 1.
    """

    def __init__(self, source: Iterator[HandBatch], labelled_fraction: float = 1.0, weak_fraction: float = 0.0,
                 seed: int = 0) -> None:
        if not 0.0 <= weak_fraction <= labelled_fraction <= 1.0:
            raise ValueError(f"need 0 <= weak_fraction ({weak_fraction}) <= labelled_fraction "
                             f"({labelled_fraction}) <= 1")
        self.source, self.seed = source, seed
        self.labelled_fraction, self.weak_fraction = labelled_fraction, weak_fraction

    def __iter__(self) -> "ThinLabels":
        return self

    def __next__(self) -> HandBatch:
        batch = next(self.source)
        u = sample_uniforms(batch.index, self.seed)
        unlabelled = u >= self.labelled_fraction
        weak = u < self.weak_fraction
        if unlabelled.any():
            batch = clear_labels(batch, unlabelled, keep_2d=False)
        if weak.any():
            batch = clear_labels(batch, weak, keep_2d=True)
        return batch

    def state_dict(self) -> dict[str, Any]:
        return self.source.state_dict()  # type: ignore[attr-defined]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.source.load_state_dict(state)  # type: ignore[attr-defined]


def concat_batches(a: HandBatch, b: HandBatch) -> HandBatch:
    """Rows of ``a`` then rows of ``b`` (same image size)."""
    if a.image.shape[1:] != b.image.shape[1:]:
        raise ValueError(f"cannot mix batches of images {tuple(a.image.shape[1:])} and {tuple(b.image.shape[1:])}")
    return HandBatch(**{f.name: torch.cat([getattr(a, f.name), getattr(b, f.name).to(getattr(a, f.name).device)])
                        for f in fields(HandBatch)})


class MixBatches(Iterator[HandBatch]):
    """Each batch = a labelled source's batch followed by an unlabelled source's batch.

    The unlabelled rows' flags are cleared here too, whatever their source says.
    """

    def __init__(self, labelled: Iterator[HandBatch], unlabelled: Iterator[HandBatch]) -> None:
        self.labelled, self.unlabelled = labelled, unlabelled

    def __iter__(self) -> "MixBatches":
        return self

    def __next__(self) -> HandBatch:
        extra = next(self.unlabelled)
        extra = clear_labels(extra, torch.ones(extra.batch_size, dtype=torch.bool), keep_2d=False)
        return concat_batches(next(self.labelled), extra)

    def state_dict(self) -> dict[str, Any]:
        return {"labelled": self.labelled.state_dict(),  # type: ignore[attr-defined]
                "unlabelled": self.unlabelled.state_dict()}  # type: ignore[attr-defined]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.labelled.load_state_dict(state["labelled"])  # type: ignore[attr-defined]
        self.unlabelled.load_state_dict(state["unlabelled"])  # type: ignore[attr-defined]


def split_batch_size(batch_size: int, labelled_fraction: float) -> tuple[int, int]:
    """(labelled rows, unlabelled rows) of a mixed batch; each >= 1 when its fraction is > 0."""
    labelled = round(batch_size * labelled_fraction)
    if 0 < labelled_fraction < 1:
        labelled = min(max(labelled, 1), batch_size - 1)
    return labelled, batch_size - labelled
