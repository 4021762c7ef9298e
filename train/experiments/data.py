"""The synthetic data of the experiments: which seeds train, which seed tests, and the sources.

Seed ranges (never overlap, so no test image is ever trained on):

- ``TRAIN_SEEDS``: seeds ``0 .. 9_999`` are for training streams, pools and caches;
- ``TEST_SEEDS``: ``10_000 .. 19_999`` are reserved for test sets; ``TEST_SEED`` = 12345 is the
  fixed synthetic test set, ``TEST_COUNT`` = 2,000 samples by default.

Sources for ``train.experiments.training`` (a ``DataFactory``: phase index -> batch iterator):

- ``stream_data``: on-the-fly renders (``train.loop.fit_data``'s synthetic source), phase p reading
  seed ``seed + p``;
- ``labelled_pool_data``: a fixed pool of renders (``SyntheticPool``) of which a fixed fraction
  keeps its labels (``PoolSplit``); the rest is left out, unlabelled, or keeps only its 2D
  keypoints. Pool batches are rendered on the training device when drawn.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch.utils.data import Dataset

from core.data.sample import HandBatch, collate_samples
from train.loop.sources import epoch_order
from train.loop.supervision import clear_labels, sample_uniforms

TRAIN_SEEDS = range(0, 10_000)
TEST_SEEDS = range(10_000, 20_000)
TEST_SEED = 12345
TEST_COUNT = 2000
REST_MODES = ("absent", "unlabelled", "2d")


def synthetic_dataset(image_size: int, count: int, seed: int) -> Dataset:
    """``count`` renders of ``image_size`` px, sample i a pure function of (seed, i)."""
    from core.data.synthetic import SyntheticConfig, SyntheticHandsDataset  # the renderer is heavy

    return SyntheticHandsDataset(SyntheticConfig.at_size(image_size), seed=seed, length=count)


def synthetic_test_dataset(image_size: int, count: int = TEST_COUNT, seed: int = TEST_SEED) -> Dataset:
    """The fixed synthetic test set: a seed from ``TEST_SEEDS`` only."""
    if seed not in TEST_SEEDS:
        raise ValueError(f"test seed {seed} lies outside the reserved test range {TEST_SEEDS.start}..{TEST_SEEDS.stop - 1}")
    return synthetic_dataset(image_size, count, seed)


@dataclass(frozen=True)
class SyntheticPool:
    """A fixed, finite training pool: samples ``0 .. size - 1`` of the stream seeded ``seed`` (a
    training seed). Nothing is stored: a sample is rendered again whenever a batch needs it."""

    image_size: int
    size: int
    seed: int

    def __post_init__(self) -> None:
        _check_train_seed(self.seed)

    def renderer(self, device: str) -> Callable[[list[int]], HandBatch]:
        """positions -> their rendered batch (``index`` = pool position), on ``device``."""
        from core.data.synthetic import SyntheticConfig, SyntheticRenderer

        renderer = SyntheticRenderer(SyntheticConfig.at_size(self.image_size), device)
        return lambda positions: renderer.render(positions, self.seed).batch


def _check_train_seed(seed: int) -> None:
    if seed not in TRAIN_SEEDS:
        raise ValueError(f"training seed {seed} lies outside the training range {TRAIN_SEEDS.start}..{TRAIN_SEEDS.stop - 1}")


def stream_data(image_size: int, batch_size: int, seed: int, device: str):
    """On-the-fly synthetic batches rendered on ``device``; phase p reads seed ``seed + p``
    (both in ``TRAIN_SEEDS``)."""
    from core.data.synthetic import SyntheticBatchSource, SyntheticConfig

    _check_train_seed(seed)
    _check_train_seed(seed + 1)

    def make(phase: int) -> Iterator[HandBatch]:
        return SyntheticBatchSource(SyntheticConfig.at_size(image_size), seed=seed + phase, batch_size=batch_size,
                                    device=device)

    return make


def same_hand_pairs(image_size: int, count: int, batch_size: int, seed: int = TEST_SEED
                    ) -> list[tuple[HandBatch, HandBatch]]:
    """The first ``count`` test samples (first of each pair, identical to the test set's) and the
    same hands rendered with another content: background, skin tone and lighting."""
    from core.data.synthetic import SyntheticConfig, SyntheticRenderer

    renderer = SyntheticRenderer(SyntheticConfig.at_size(image_size), "cpu")
    return [renderer.render_pairs(list(range(start, min(start + batch_size, count))), seed, change_appearance=True)
            for start in range(0, count, batch_size)]


@dataclass
class PoolSplit:
    """Which positions of a pool keep their labels: a fixed function of (seed, position)."""

    labelled: list[int]
    rest: list[int]

    @classmethod
    def fixed(cls, pool_size: int, labelled_fraction: float, seed: int) -> "PoolSplit":
        if not 0.0 < labelled_fraction < 1.0:
            raise ValueError(f"labelled_fraction must be in (0, 1), got {labelled_fraction}")
        u = sample_uniforms(torch.arange(pool_size), seed)
        labelled = torch.nonzero(u < labelled_fraction).flatten().tolist()
        rest = torch.nonzero(u >= labelled_fraction).flatten().tolist()
        if not labelled or not rest:
            raise ValueError(f"a pool of {pool_size} is too small to keep {labelled_fraction:.0%} labelled")
        return cls(labelled, rest)

    @property
    def percent(self) -> int:
        return round(100 * len(self.labelled) / (len(self.labelled) + len(self.rest)))


class PoolBatches(Iterator[HandBatch]):
    """Endless batches of pool ``positions`` in shuffled epochs (the order a pure function of
    (seed, epoch)); ``render(positions)`` makes a batch whose ``index`` holds the positions."""

    def __init__(self, render: Callable[[list[int]], HandBatch], positions: list[int], batch_size: int,
                 seed: int) -> None:
        if not positions:
            raise ValueError("PoolBatches: no positions to draw from")
        self.render, self.positions, self.seed = render, list(positions), seed
        self.batch_size = min(batch_size, len(self.positions))
        self.epoch, self.offset = 0, 0

    def __iter__(self) -> "PoolBatches":
        return self

    def __next__(self) -> HandBatch:
        if self.offset + self.batch_size > len(self.positions):  # drop the remainder, like DatasetBatches
            self.epoch, self.offset = self.epoch + 1, 0
        order = epoch_order(len(self.positions), self.seed, self.epoch)[self.offset: self.offset + self.batch_size]
        self.offset += self.batch_size
        return self.render([self.positions[i] for i in order.tolist()])


class KeepLabels(Iterator[HandBatch]):
    """Rows whose ``index`` is not in ``labelled`` lose every label, or all but their 2D ones."""

    def __init__(self, source: Iterator[HandBatch], labelled: list[int], keep_2d: bool) -> None:
        self.source, self.keep_2d = source, keep_2d
        self.labelled = torch.tensor(sorted(labelled), dtype=torch.int64)

    def __iter__(self) -> "KeepLabels":
        return self

    def __next__(self) -> HandBatch:
        batch = next(self.source)
        rows = ~torch.isin(batch.index.cpu(), self.labelled)
        return clear_labels(batch, rows, keep_2d=self.keep_2d) if rows.any() else batch


def labelled_pool_data(render: Callable[[list[int]], HandBatch], split: PoolSplit, rest: str, batch_size: int,
                       seed: int):
    """A ``DataFactory`` over a pool where only ``split.labelled`` keep their 3D labels.

    rest: "absent" (train on the labelled part alone), "unlabelled" (the rest as images without
    labels: semi-supervised) or "2d" (the rest with 2D keypoints only: weakly supervised).
    """
    if rest not in REST_MODES:
        raise ValueError(f"rest must be one of {REST_MODES}, got {rest!r}")
    positions = split.labelled if rest == "absent" else sorted(split.labelled + split.rest)

    def make(phase: int) -> Iterator[HandBatch]:
        batches = PoolBatches(render, positions, batch_size, seed=seed + phase)
        return batches if rest == "absent" else KeepLabels(batches, split.labelled, keep_2d=rest == "2d")

    return make


def materialise(dataset: Dataset) -> list:
    """Every sample of a dataset in memory (a list is a map-style dataset too)."""
    return [dataset[i] for i in range(len(dataset))]


def test_batches(dataset: Dataset, count: int, batch_size: int) -> list[HandBatch]:
    """The first ``count`` samples of a dataset as batches, in order."""
    count = min(count, len(dataset))
    return [collate_samples([dataset[i] for i in range(start, min(start + batch_size, count))])
            for start in range(0, count, batch_size)]
