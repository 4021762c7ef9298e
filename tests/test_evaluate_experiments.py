"""train.experiments: data splits of the semi/weak experiments, probes, and the quick run's report."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from core.baselines import DirectRegression, DirectRegressionConfig, load_pose_estimator
from core.data.sample import APPEARANCE_DIM, HandSample, collate_samples
from core.hand.canonical import rotation_from_6d, rotation_to_6d
from core.hand.sampling import axis_angle_to_matrix
from core.models import DVAEConfig, DecodedLabels
from core.models.objectives import LabelTargets
from tests.data_builders import camera_hand
from train.experiments import data
from train.experiments.run import ExperimentConfig, slug
from train.experiments.breakdown import error_breakdown
from train.experiments.probe import content_swap, rotation_angle_deg
from train.experiments.report import SECTIONS


class TinyPool(Dataset):
    """Labelled samples with a hand drawn over a flat background (mask and content tag exact)."""

    def __init__(self, count: int, size: int = 16) -> None:
        self.count, self.size = count, size

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> HandSample:
        s = self.size
        content = torch.full((3, s, s), 0.1 * (i % 7))
        mask = torch.zeros(1, s, s)
        mask[:, 4:12, 6:10] = 1.0
        image = (1 - mask) * content + mask * 0.9
        return HandSample(
            image=image, mask=mask, keypoints_3d=torch.from_numpy(camera_hand(seed=i)).float(),
            keypoints_2d=torch.full((21, 2), 8.0), visible=torch.ones(21, dtype=torch.bool), K=torch.eye(3),
            crop_rotation=torch.eye(3), is_left=torch.tensor(False), content=content,
            appearance=torch.zeros(APPEARANCE_DIM), has_3d=torch.tensor(True), has_2d=torch.tensor(True),
            has_content=torch.tensor(True), index=torch.tensor(1000 + i))


def test_pool_split_is_fixed_and_disjoint() -> None:
    split = data.PoolSplit.fixed(200, 0.1, seed=3)
    assert split == data.PoolSplit.fixed(200, 0.1, seed=3)
    assert set(split.labelled).isdisjoint(split.rest) and len(split.labelled) + len(split.rest) == 200
    assert 5 <= len(split.labelled) <= 40 and split.percent == round(100 * len(split.labelled) / 200)
    assert split != data.PoolSplit.fixed(200, 0.1, seed=4)


def pool_renderer(pool: TinyPool):
    """positions -> batch with ``index`` = position, as ``SyntheticPool.renderer`` makes them."""
    def render(positions: list[int]):
        batch = collate_samples([pool[i] for i in positions])
        return replace(batch, index=torch.tensor(positions))
    return render


@pytest.mark.parametrize("rest", ["absent", "unlabelled", "2d"])
def test_only_the_labelled_subset_keeps_3d_labels(rest: str) -> None:
    pool = TinyPool(60)
    split = data.PoolSplit.fixed(60, 0.2, seed=1)
    source = data.labelled_pool_data(pool_renderer(pool), split, rest, batch_size=4, seed=0)(1)
    seen_3d, seen_other = set(), set()
    for _ in range(15):
        batch = next(source)
        for row, index in enumerate(batch.index.tolist()):
            if bool(batch.has_3d[row]):
                seen_3d.add(index)
                assert batch.keypoints_3d[row].abs().sum() > 0
            else:
                seen_other.add(index)
                assert batch.keypoints_3d[row].abs().sum() == 0
                assert bool(batch.has_2d[row]) == (rest == "2d")
    assert seen_3d == set(split.labelled)  # 15 batches of 4 cover every labelled sample
    assert seen_other <= set(split.rest)
    assert bool(seen_other) == (rest != "absent")


def test_seed_ranges_keep_training_off_the_test_set() -> None:
    assert data.TEST_SEED in data.TEST_SEEDS and data.TEST_SEED not in data.TRAIN_SEEDS
    assert set(data.TRAIN_SEEDS).isdisjoint(data.TEST_SEEDS)
    with pytest.raises(ValueError, match="test range"):
        data.synthetic_test_dataset(32, 4, seed=5)
    with pytest.raises(ValueError, match="training range"):
        data.SyntheticPool(32, 4, seed=data.TEST_SEED)
    with pytest.raises(ValueError, match="training seed"):
        ExperimentConfig(seed=data.TEST_SEED)


class BackgroundReader:
    """A fake estimator whose 'pose' grows with the mean background brightness (not invariant)."""

    image_size = 16

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        base = torch.from_numpy(camera_hand(seed=0)).float()
        scale = 1.0 + self.weight * images.mean(dim=(1, 2, 3))
        return base[None] * scale[:, None, None]


def test_content_swap_measures_how_much_content_moves_the_pose() -> None:
    batches = data.test_batches(TinyPool(8), 8, 4)
    pairs = [(batch, replace(batch, image=(batch.image + 0.3 * (1 - batch.mask)).clamp(0, 1))) for batch in batches]
    swaps = content_swap({"invariant": BackgroundReader(0.0), "reads content": BackgroundReader(1.0)}, pairs)
    assert swaps["invariant"].shift_mm == pytest.approx(0.0, abs=1e-4)
    assert swaps["reads content"].shift_mm > 1.0


class LabelReader(DirectRegression):
    """Reads fixed labels from any image: a stand-in estimator whose errors are known."""

    def __init__(self, labels: DecodedLabels) -> None:
        super().__init__(DirectRegressionConfig(DVAEConfig.tiny()))
        self.labels = labels

    def forward(self, images: torch.Tensor) -> DecodedLabels:
        return self.labels


def test_error_breakdown_puts_the_error_on_the_wrong_factor() -> None:
    batch = data.test_batches(TinyPool(4), 4, 4)[0]
    truth = LabelTargets.from_batch(batch)
    right = torch.full((4,), -20.0)  # TinyPool's hands are right hands
    exact = error_breakdown(LabelReader(DecodedLabels(truth.canonical_pose, truth.rotation_6d, right,
                                                      torch.zeros(4, APPEARANCE_DIM))), [batch])
    assert exact.estimated_mm == pytest.approx(0.0, abs=1e-3) and exact.viewpoint_error_deg < 0.1
    assert exact.handedness_correct == 1.0 and exact.label_round_trip_mm is None
    turn = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([math.radians(30.0)]))
    turned_6d = rotation_to_6d(turn @ rotation_from_6d(truth.rotation_6d))
    view_wrong = error_breakdown(LabelReader(DecodedLabels(truth.canonical_pose, turned_6d, right,
                                                           torch.zeros(4, APPEARANCE_DIM))), [batch])
    assert view_wrong.estimated_mm > 10.0 and view_wrong.viewpoint_error_deg == pytest.approx(30.0, abs=0.1)
    assert view_wrong.true_viewpoint_mm == pytest.approx(0.0, abs=1e-3)
    assert view_wrong.true_side_mm == pytest.approx(view_wrong.estimated_mm, rel=1e-4)  # the side was right
    left = -right
    side_wrong = error_breakdown(LabelReader(DecodedLabels(truth.canonical_pose, truth.rotation_6d, left,
                                                           torch.zeros(4, APPEARANCE_DIM))), [batch])
    assert side_wrong.handedness_correct == 0.0 and side_wrong.estimated_mm > 10.0
    assert side_wrong.true_side_mm == pytest.approx(0.0, abs=1e-3)
    assert view_wrong.true_canonical_mm == pytest.approx(view_wrong.estimated_mm, rel=1e-4)


def test_rotation_angle() -> None:
    rotation = axis_angle_to_matrix(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([math.radians(30.0)]))
    assert rotation_angle_deg(torch.eye(3)[None], rotation) == pytest.approx(30.0, abs=1e-3)


def test_slug() -> None:
    assert slug("dVAE, 10% labelled + rest unlabelled") == "dvae_10pct_labelled_rest_unlabelled"


@pytest.mark.slow
def test_quick_run_writes_every_section_and_picture(tmp_path: Path) -> None:
    pytest.importorskip("core.data.synthetic")
    from train.experiments.run import main

    out, work = tmp_path / "docs", tmp_path / "work"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks on a shared CPU: one thread is several times faster
    try:
        assert main(["--quick", "--out", str(out), "--work", str(work), "--budget-steps", "2", "--test-count", "8",
                     "--pool-size", "24", "--batch-size", "4", "--device", "cpu"]) == 0
    finally:
        torch.set_num_threads(threads)
    text = (out / "results.md").read_text()
    positions = [text.find(section) for section in SECTIONS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    pictures = sorted(p.name for p in (out / "img").glob("results_*.png"))
    assert len(pictures) == 4 and all(f"img/{name}" in text for name in pictures)
    assert "--budget-steps 2" in text  # the command is recorded
    checkpoints = sorted(work.glob("*.safetensors"))
    assert len(checkpoints) == 6
    for path in checkpoints:
        estimator, _ = load_pose_estimator(path)
        assert estimator.predict(torch.rand(1, 3, 32, 32)).shape == (1, 21, 3)
    assert np.isfinite([float(line.split("|")[2]) for line in text.splitlines() if line.startswith("| dVAE |")]).all()
