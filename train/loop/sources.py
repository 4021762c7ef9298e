"""Resumable, rank-sharded sources of batches for the trainer.

The trainer pulls batches with ``next(source)``. To resume a run exactly, a source also has
``state_dict() -> dict`` and ``load_state_dict(dict)``: the position of the NEXT batch it will
yield (counted in batches consumed, not prefetched). Two sources cover the project's data:

- ``IndexedBatches``: batch ``k`` is a pure function ``make_batch(k)`` (on-the-fly synthetic
  rendering seeded by ``(seed, k)``); rank ``r`` of ``W`` takes indices ``k * W + r``.
- ``DatasetBatches``: a map-style dataset (``dataset[i] -> HandSample``) read in a shuffled order
  that is a pure function of ``(seed, epoch)``, split between ranks, optionally with DataLoader
  worker processes.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Protocol, Sequence, TypeVar, runtime_checkable

import torch
from torch.utils.data import DataLoader

from core.data.sample import collate_samples

BatchT = TypeVar("BatchT")


@runtime_checkable
class ResumableSource(Protocol):
    """An iterator of batches whose position can be saved and restored."""

    def __next__(self) -> Any: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class IndexedBatches(Iterator[BatchT]):
    """Yields ``make_batch(k * world_size + rank)`` for k = 0, 1, 2, ...

    ``make_batch`` must be deterministic in its argument (seed a ``torch.Generator`` from it),
    so the stream, and so a resumed run, is reproducible.
    """

    def __init__(self, make_batch: Callable[[int], BatchT], rank: int = 0, world_size: int = 1) -> None:
        self.make_batch = make_batch
        self.rank, self.world_size = rank, world_size
        self.position = 0

    def __iter__(self) -> "IndexedBatches[BatchT]":
        return self

    def __next__(self) -> BatchT:
        batch = self.make_batch(self.position * self.world_size + self.rank)
        self.position += 1
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.position = int(state["position"])


def epoch_order(num_items: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled item order of one epoch: a pure function of (seed, epoch). (num_items,) int64."""
    generator = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % (2**63))
    return torch.randperm(num_items, generator=generator)


class DatasetBatches(Iterator[BatchT]):
    """Endless shuffled batches of a map-style dataset, split between ranks, resumable.

    Each epoch every rank takes ``order[rank::world_size]`` of the epoch's order and yields
    ``len(dataset) // (world_size * batch_size)`` full batches (the remainder is dropped so
    all ranks step together). ``num_workers > 0`` loads batches in worker processes; samples
    must then depend only on their index (datasets seed their randomness from it).
    """

    def __init__(self, dataset: Sequence[Any], batch_size: int, seed: int = 0, rank: int = 0,
                 world_size: int = 1, num_workers: int = 0,
                 collate_fn: Callable[[list[Any]], BatchT] = collate_samples) -> None:
        self.batches_per_epoch = len(dataset) // (world_size * batch_size)
        if self.batches_per_epoch == 0:
            raise ValueError(f"dataset of {len(dataset)} samples is smaller than one batch of {batch_size} "
                             f"on each of {world_size} process(es)")
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.rank, self.world_size, self.num_workers = rank, world_size, num_workers
        self.collate_fn = collate_fn
        self.epoch, self.offset = 0, 0  # offset: batches of this epoch already yielded
        self._loader_iter: Iterator[BatchT] | None = None

    def __iter__(self) -> "DatasetBatches[BatchT]":
        return self

    def _start_epoch(self) -> None:
        shard = epoch_order(len(self.dataset), self.seed, self.epoch)[self.rank::self.world_size]
        shard = shard[: self.batches_per_epoch * self.batch_size][self.offset * self.batch_size:]
        loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=shard.tolist(),
                            num_workers=self.num_workers, collate_fn=self.collate_fn,
                            persistent_workers=False, pin_memory=False)
        self._loader_iter = iter(loader)

    def __next__(self) -> BatchT:
        if self.offset >= self.batches_per_epoch:
            self.epoch, self.offset, self._loader_iter = self.epoch + 1, 0, None
        if self._loader_iter is None:
            self._start_epoch()
        assert self._loader_iter is not None
        batch = next(self._loader_iter)
        self.offset += 1
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "offset": self.offset}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.offset = int(state["epoch"]), int(state["offset"])
        self._loader_iter = None
