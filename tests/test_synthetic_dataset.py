"""SyntheticHandsDataset and SyntheticBatchSource return complete, consistent HandSamples."""
from __future__ import annotations

from dataclasses import fields

import torch
from torch.utils.data import DataLoader

from core.data.sample import APPEARANCE_DIM, HandBatch, HandSample, collate_samples
from core.data.synthetic import SyntheticBatchSource, SyntheticConfig, SyntheticHandsDataset

SIZE = 64


def test_dataset_samples_have_every_field_labelled():
    dataset = SyntheticHandsDataset(SyntheticConfig.at_size(SIZE), seed=0, length=100, block_size=4)
    sample = dataset[2]
    assert isinstance(sample, HandSample)
    assert sample.image.shape == (3, SIZE, SIZE) and sample.image.dtype == torch.float32
    assert 0 <= float(sample.image.min()) and float(sample.image.max()) <= 1
    assert sample.mask.shape == (1, SIZE, SIZE) and float(sample.mask.max()) == 1.0
    assert sample.content.shape == (3, SIZE, SIZE)
    assert sample.keypoints_3d.shape == (21, 3) and sample.keypoints_2d.shape == (21, 2)
    assert sample.visible.dtype == torch.bool and sample.visible.shape == (21,)
    assert sample.appearance.shape == (APPEARANCE_DIM,)
    assert torch.equal(sample.crop_rotation, torch.eye(3))
    assert bool(sample.has_3d) and bool(sample.has_2d) and bool(sample.has_content)
    assert int(sample.index) == 2
    # The image shows the hand over the content: they differ where the hand is.
    hand = sample.mask[0] > 0.99
    assert (sample.image - sample.content).abs().sum(0)[hand].mean() > 0.05


def test_dataset_is_deterministic_per_index_whatever_the_access_order():
    config = SyntheticConfig.at_size(SIZE)
    a = SyntheticHandsDataset(config, seed=3, length=50, block_size=8)
    b = SyntheticHandsDataset(config, seed=3, length=50, block_size=3)
    x, y = a[10], b[10]
    assert torch.allclose(x.keypoints_3d, y.keypoints_3d)
    assert (x.image - y.image).abs().mean() < 2e-3
    assert not torch.allclose(a[11].keypoints_3d, x.keypoints_3d)


def test_batch_source_matches_the_dataset_and_collates_like_a_dataloader():
    config = SyntheticConfig.at_size(SIZE)
    source = SyntheticBatchSource(config, seed=5, batch_size=4)
    batch = next(source)
    assert isinstance(batch, HandBatch) and batch.batch_size == 4
    assert batch.index.tolist() == [0, 1, 2, 3]
    assert next(source).index.tolist() == [4, 5, 6, 7]
    dataset = SyntheticHandsDataset(config, seed=5, length=8, block_size=4)
    loaded = next(iter(DataLoader(dataset, batch_size=4, collate_fn=collate_samples)))
    for field in fields(HandBatch):
        assert getattr(loaded, field.name).shape == getattr(batch, field.name).shape, field.name
    assert torch.allclose(loaded.keypoints_2d, batch.keypoints_2d, atol=1e-4)


def test_pairs_from_the_batch_source():
    source = SyntheticBatchSource(SyntheticConfig.at_size(SIZE), seed=1, batch_size=3)
    first, second = source.next_pairs()
    assert torch.equal(first.keypoints_3d, second.keypoints_3d)
    assert not torch.equal(first.content, second.content)
