"""The synthetic data of the experiments: which seeds train, which seed tests, and the sources.

Seed ranges (never overlap, so no test image is ever trained on):

- ``TRAIN_SEEDS``: seeds ``0 .. 9_999`` are for training streams, pools and caches;
- ``TEST_SEEDS``: ``10_000 .. 19_999`` are reserved for test sets; ``TEST_SEED`` = 12345 is the
  fixed synthetic test set, ``TEST_COUNT`` = 2,000 samples by default.

Sources for ``train.experiments_train`` (a ``DataFactory``: phase index -> batch iterator):

- ``stream_data``: on-the-fly renders (``train.fit_data``'s synthetic source), phase p reading
  seed ``seed + p``;
- ``labelled_pool_data``: a fixed pool of renders of which a fixed fraction keeps its labels
  (``PoolSplit``); the rest is left out, unlabelled, or keeps only its 2D keypoints.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch.utils.data import Dataset, Subset

from core.data.sample import HandBatch, collate_samples
from train.config import DataConfig
from train.distributed import DistContext
from train.sources import DatasetBatches
from train.supervision import clear_labels, sample_uniforms

TRAIN_SEEDS = range(0, 10_000)
TEST_SEEDS = range(10_000, 20_000)
TEST_SEED = 12345
TEST_COUNT = 2000
REST_MODES = ("absent", "unlabelled", "2d")


def synthetic_dataset(image_size: int, count: int, seed: int) -> Dataset:
    """``count`` renders of ``image_size`` px, sample i a pure function of (seed, i)."""
    from core.data.synthetic import SyntheticConfig, SyntheticHandsDataset  # the renderer is heavy

    return SyntheticHandsDataset(SyntheticConfig(size=image_size), seed=seed, length=count)


def synthetic_test_dataset(image_size: int, count: int = TEST_COUNT, seed: int = TEST_SEED) -> Dataset:
    """The fixed synthetic test set: a seed from ``TEST_SEEDS`` only."""
    if seed not in TEST_SEEDS:
        raise ValueError(f"test seed {seed} lies outside the reserved test range {TEST_SEEDS.start}..{TEST_SEEDS.stop - 1}")
    return synthetic_dataset(image_size, count, seed)


def synthetic_pool(image_size: int, count: int, seed: int) -> Dataset:
    """A fixed training pool (seed from ``TRAIN_SEEDS``)."""
    _check_train_seed(seed)
    return synthetic_dataset(image_size, count, seed)


def _check_train_seed(seed: int) -> None:
    if seed not in TRAIN_SEEDS:
        raise ValueError(f"training seed {seed} lies outside the training range {TRAIN_SEEDS.start}..{TRAIN_SEEDS.stop - 1}")


def stream_data(image_size: int, batch_size: int, seed: int, device: str):
    """On-the-fly synthetic batches; phase p reads seed ``seed + p`` (both in ``TRAIN_SEEDS``)."""
    from train.fit_data import labelled_source

    _check_train_seed(seed)
    _check_train_seed(seed + 1)

    def make(phase: int) -> Iterator[HandBatch]:
        data = DataConfig(source="synthetic", batch_size=batch_size, seed=seed + phase)
        return labelled_source(data, image_size, seed + phase, batch_size, DistContext(), torch.device(device))

    return make


@dataclass
class PoolSplit:
    """Which positions of a pool keep their labels: a fixed function of (seed, position)."""

    labelled: list[int]
    rest: list[int]

    @classmethod
    def fixed(cls, pool: Dataset, labelled_fraction: float, seed: int) -> "PoolSplit":
        if not 0.0 < labelled_fraction < 1.0:
            raise ValueError(f"labelled_fraction must be in (0, 1), got {labelled_fraction}")
        u = sample_uniforms(torch.arange(len(pool)), seed)
        labelled = torch.nonzero(u < labelled_fraction).flatten().tolist()
        rest = torch.nonzero(u >= labelled_fraction).flatten().tolist()
        if not labelled or not rest:
            raise ValueError(f"a pool of {len(pool)} is too small to keep {labelled_fraction:.0%} labelled")
        return cls(labelled, rest)

    @property
    def percent(self) -> int:
        return round(100 * len(self.labelled) / (len(self.labelled) + len(self.rest)))


class _Positioned(Dataset):
    """A dataset whose samples carry their position as ``index`` (what ``KeepLabels`` keys on)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, position: int):
        sample = self.dataset[position]
        sample.index = torch.tensor(position, dtype=torch.int64)
        return sample


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


def labelled_pool_data(pool: Dataset, split: PoolSplit, rest: str, batch_size: int, seed: int):
    """A ``DataFactory`` over ``pool`` where only ``split.labelled`` keep 3D labels.

    rest: "absent" (train on the labelled part alone), "unlabelled" (the rest as images without
    labels: semi-supervised) or "2d" (the rest with 2D keypoints only: weakly supervised).
    """
    if rest not in REST_MODES:
        raise ValueError(f"rest must be one of {REST_MODES}, got {rest!r}")
    positioned = _Positioned(pool)
    dataset = Subset(positioned, split.labelled) if rest == "absent" else positioned

    def make(phase: int) -> Iterator[HandBatch]:
        batches = DatasetBatches(dataset, min(batch_size, len(dataset)), seed=seed + phase)
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
