"""Batch sources of ``train.fit`` from its ``DataConfig``: labelled source, semi/weak wrappers.

Every source is resumable and split between ranks (``train.loop.sources``). Phase ``p`` (0 = the
disentangling step, 1 = the embedding step) reads with seed ``data.seed + p`` so that the two
steps see different synthetic samples / orders. The embedding step gets the semi/weak
supervision wrappers; the disentangling step learns from labels, so it reads the plain source.
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Callable, Iterator

import torch
from torch.utils.data import Dataset

from core.data.crop import CropConfig
from core.data.sample import HandBatch
from core.data.synthetic import SyntheticConfig, SyntheticRenderer
from train.config import DataConfig
from train.loop.distributed import DistContext
from train.loop.sources import DatasetBatches, IndexedBatches
from train.loop.supervision import MixBatches, ThinLabels, split_batch_size
from core.config_io import to_table

GRID_SEED_OFFSET = 1_000_000  # the grid's samples come from a stream no phase reads


def open_dataset(data: DataConfig, image_size: int) -> Dataset:
    """The map-style dataset named by ``data.source`` (not "synthetic"), crops of ``image_size``."""
    from core.data import loaders  # the loaders pull in file-format code only when used

    kind, folder = data.source_kind()
    crop = CropConfig(size=image_size)
    if kind == "cached":
        dataset: Dataset = loaders.SyntheticCachedDataset(folder, crop=None, skip_bad=data.skip_bad)
    elif kind == "rhd":
        dataset = loaders.RHDDataset(folder, crop=crop, skip_bad=data.skip_bad)
    elif kind == "stb":
        dataset = loaders.STBDataset(folder, crop=crop, skip_bad=data.skip_bad)
    elif kind == "freihand":
        dataset = loaders.FreiHANDDataset(folder, crop=crop, skip_bad=data.skip_bad)
    else:
        raise ValueError(f"open_dataset: {data.source!r} is not a dataset on disk")
    size = dataset[0].image.shape[-1]
    if size != image_size:
        raise ValueError(f"{data.source}: samples are {size} px, the model takes {image_size} px")
    return dataset


_RENDERERS: dict[tuple[str, str], SyntheticRenderer] = {}


def shared_renderer(config: SyntheticConfig, device: torch.device) -> SyntheticRenderer:
    """One renderer per (config, device) for the grid and both phases: building one bakes the hand
    and prepares background tiles, seconds of work. Rendering is a pure function of (seed, index)."""
    key = (json.dumps(to_table(config), sort_keys=True), str(device))
    if key not in _RENDERERS:
        _RENDERERS.clear()  # keep one: a new config replaces the old renderer
        _RENDERERS[key] = SyntheticRenderer(config, device)
    return _RENDERERS[key]


class RenderedBatch:
    """``batch(j)`` = synthetic samples ``[j * batch_size, (j + 1) * batch_size)`` of the stream ``seed``."""

    def __init__(self, config: SyntheticConfig, seed: int, batch_size: int, device: torch.device) -> None:
        self.renderer = shared_renderer(config, device)
        self.seed, self.batch_size = seed, batch_size

    def __call__(self, j: int) -> HandBatch:
        start = j * self.batch_size
        return self.renderer.render(list(range(start, start + self.batch_size)), self.seed).batch


def synthetic_batches(data: DataConfig, image_size: int, seed: int, batch_size: int, dist: DistContext,
                      device: torch.device) -> IndexedBatches[HandBatch]:
    """On-the-fly renders: step k of rank r renders batch ``k * world + r`` (distinct samples)."""
    config = replace(data.synthetic, render=replace(data.synthetic.render, size=image_size))
    render_device = torch.device(data.render_device) if data.render_device else device
    return IndexedBatches(RenderedBatch(config, seed, batch_size, render_device),
                          rank=dist.rank, world_size=dist.world_size)


def labelled_source(data: DataConfig, image_size: int, seed: int, batch_size: int, dist: DistContext,
                    device: torch.device, dataset: Dataset | None = None) -> Iterator[HandBatch]:
    """Batches of the labelled source; ``dataset`` reuses an opened dataset on disk."""
    if data.source == "synthetic":
        return synthetic_batches(data, image_size, seed, batch_size, dist, device)
    dataset = dataset if dataset is not None else open_dataset(data, image_size)
    return DatasetBatches(dataset, batch_size, seed=seed, rank=dist.rank, world_size=dist.world_size,
                          num_workers=data.num_workers)


def photo_source(data: DataConfig, image_size: int, seed: int, batch_size: int, dist: DistContext) -> Iterator[HandBatch]:
    """Unlabelled photos of ``data.unlabelled_dir``."""
    from core.data.loaders import PhotoFolderDataset

    dataset = PhotoFolderDataset(data.unlabelled_dir, size=image_size, skip_bad=data.skip_bad)
    return DatasetBatches(dataset, batch_size, seed=seed, rank=dist.rank, world_size=dist.world_size,
                          num_workers=data.num_workers)


def phase_data(data: DataConfig, image_size: int, phase_index: int, dist: DistContext,
               device: torch.device, supervised_fractions: bool) -> Callable[[], Iterator[HandBatch]]:
    """A factory of phase ``phase_index``'s source (called when the phase starts).

    ``supervised_fractions`` applies ``labelled_fraction`` / ``weak_fraction`` (the embedding
    step); otherwise every sample keeps its labels.
    """
    seed = data.seed + phase_index

    def make() -> Iterator[HandBatch]:
        if not supervised_fractions:
            return labelled_source(data, image_size, seed, data.batch_size, dist, device)
        if data.unlabelled_dir:
            n_labelled, n_photos = split_batch_size(data.batch_size, data.labelled_fraction)
            labelled = labelled_source(data, image_size, seed, n_labelled, dist, device)
            if data.weak_fraction > 0:  # weak_fraction counts over the whole batch
                weak = min(1.0, data.weak_fraction * data.batch_size / n_labelled)
                labelled = ThinLabels(labelled, labelled_fraction=1.0, weak_fraction=weak, seed=seed)
            if n_photos == 0:
                return labelled
            return MixBatches(labelled, photo_source(data, image_size, seed, n_photos, dist))
        source = labelled_source(data, image_size, seed, data.batch_size, dist, device)
        if data.labelled_fraction == 1.0 and data.weak_fraction == 0.0:
            return source
        return ThinLabels(source, data.labelled_fraction, data.weak_fraction, seed=seed)

    return make


def grid_batch(data: DataConfig, image_size: int, columns: int, device: torch.device) -> HandBatch:
    """The fixed, fully labelled evaluation batch of the sample grid (rank-independent)."""
    source = labelled_source(data, image_size, data.seed + GRID_SEED_OFFSET, columns, DistContext(), device)
    return next(source)
