"""The synthetic data of the experiments: which seeds train, which seed tests.

Seed ranges (never overlap, so no test image is ever trained on):

- ``TRAIN_SEEDS``: seeds ``0 .. 9_999`` are for training streams and caches;
- ``TEST_SEED`` = 12345 (``TEST_SEEDS``: ``10_000 .. 19_999`` are reserved for test sets): the
  fixed synthetic test set, ``TEST_COUNT`` = 2,000 samples by default.
"""
from __future__ import annotations

TRAIN_SEEDS = range(0, 10_000)
TEST_SEEDS = range(10_000, 20_000)
TEST_SEED = 12345
TEST_COUNT = 2000


def synthetic_test_set(image_size: int, count: int = TEST_COUNT, seed: int = TEST_SEED):
    """The fixed synthetic test set (needs ``core.data.synthetic``)."""
    if seed not in TEST_SEEDS:
        raise ValueError(f"test seed {seed} lies outside the reserved test range {TEST_SEEDS}")
    raise NotImplementedError("the on-the-fly synthetic test set needs core.data.synthetic")
