"""Semi- and weak-supervision wrappers: which rows keep which labels, stably and resumably."""
from __future__ import annotations

import pytest
import torch

from tests.trainer_toys import fake_hand_batch
from train.loop.sources import IndexedBatches
from train.loop.supervision import MixBatches, ThinLabels, split_batch_size


def batches(batch_size: int = 50, offset: int = 0) -> IndexedBatches:
    return IndexedBatches(lambda k: fake_hand_batch(torch.arange(batch_size) + offset + k * batch_size))


def test_thin_labels_gives_the_asked_fractions_and_clears_what_it_says() -> None:
    thin = ThinLabels(batches(), labelled_fraction=0.6, weak_fraction=0.2, seed=3)
    rows = [next(thin) for _ in range(40)]  # 2000 samples
    has_3d = torch.cat([b.has_3d for b in rows]).float()
    has_2d = torch.cat([b.has_2d for b in rows]).float()
    assert has_3d.mean().item() == pytest.approx(0.4, abs=0.04)          # full labels
    assert (has_2d - has_3d).mean().item() == pytest.approx(0.2, abs=0.04)  # 2D only
    assert (1 - has_2d).mean().item() == pytest.approx(0.4, abs=0.04)    # unlabelled
    for b in rows:
        weak = b.has_2d & ~b.has_3d
        none = ~b.has_2d
        assert not b.has_content[weak | none].any()
        assert (b.keypoints_3d[weak | none] == 0).all() and (b.content[weak | none] == 0).all()
        assert (b.keypoints_2d[weak] != 0).any(dim=(1, 2)).all()        # weak rows keep their 2D
        assert (b.keypoints_2d[none] == 0).all() and not b.visible[none].any() and (b.mask[none] == 0).all()
        assert (b.keypoints_3d[b.has_3d] != 0).any(dim=(1, 2)).all()    # labelled rows untouched


def test_a_sample_keeps_its_status_whatever_batch_it_is_in() -> None:
    a = next(ThinLabels(batches(50), labelled_fraction=0.5, seed=1))
    b = next(ThinLabels(batches(10, offset=20), labelled_fraction=0.5, seed=1))  # indices 20..29
    assert torch.equal(a.has_3d[20:30], b.has_3d)
    other_seed = next(ThinLabels(batches(50), labelled_fraction=0.5, seed=2))
    assert not torch.equal(a.has_3d, other_seed.has_3d)


def test_bad_fractions_are_refused() -> None:
    with pytest.raises(ValueError, match="weak_fraction"):
        ThinLabels(batches(), labelled_fraction=0.3, weak_fraction=0.5)


def test_mix_batches_appends_unlabelled_rows_and_resumes() -> None:
    mix = MixBatches(batches(6), batches(2, offset=10_000))
    first = next(mix)
    assert first.batch_size == 8
    assert first.has_3d[:6].all() and not first.has_3d[6:].any() and not first.has_2d[6:].any()
    state = mix.state_dict()
    second = next(mix)
    again = MixBatches(batches(6), batches(2, offset=10_000))
    again.load_state_dict(state)
    assert torch.equal(next(again).image, second.image)


def test_split_batch_size_keeps_both_parts() -> None:
    assert split_batch_size(32, 0.75) == (24, 8)
    assert split_batch_size(4, 0.99) == (3, 1)
    assert split_batch_size(4, 0.01) == (1, 3)
    assert split_batch_size(16, 1.0) == (16, 0)
