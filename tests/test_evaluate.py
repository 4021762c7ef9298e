"""train.evaluate.synthetic: the CLI on FreiHAND/RHD-layout folders, and predictions in the dataset's frame."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.baselines import CrossModalConfig, CrossModalVAE, DirectRegression, DirectRegressionConfig, save_baseline
from core.data.sample import APPEARANCE_DIM, collate_samples
from core.checkpoint import save_model
from core.data.loaders import write_freihand_layout
from core.hand.joints import from_rhd, to_rhd
from core.models.config import DVAEConfig
from core.models.dvae import DVAE, DecodedLabels
from core.models.objectives import LabelTargets
from tests.data_builders import (REAL_HANDS, camera_hand, interhand_fixture_hands, intrinsics, project, skeleton_image,
                                 write_rhd)
from train.evaluate import synthetic as ev

REPO = Path(__file__).resolve().parents[1]
JSON_KEYS = ("n", "epe_mean_mm", "epe_median_mm", "auc_20_50", "auc_0_50", "pa_epe_mean_mm", "px_mean")


def write_tiny_freihand(root: Path, count: int = 3, size: int = 224) -> tuple[np.ndarray, np.ndarray]:
    """FreiHAND-layout evaluation split with off-axis hands; returns (K (N,3,3), xyz mm (N,21,3))."""
    K = np.stack([intrinsics(300.0 + 20 * i, size / 2, size / 2) for i in range(count)])
    hands = np.stack([camera_hand(seed=i, centre_mm=(40.0 - 30 * i, -25.0 + 20 * i, 450.0), turn=0.4 * i)
                      for i in range(count)])
    images = [skeleton_image((size, size), project(K[i], hands[i]), seed=i)[..., ::-1] for i in range(count)]
    write_freihand_layout(root, "evaluation", images, K, hands / 1000.0)
    return K, hands


def last_json_line(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


class GroundTruthEstimator:
    """A fake ``PoseEstimator`` answering each batch with the dataset's own crop-frame labels."""

    def __init__(self, dataset, image_size: int) -> None:
        self.answers = torch.stack([dataset[i].keypoints_3d for i in range(len(dataset))])
        self.answers = self.answers - self.answers[:, :1]  # root-relative, as estimators return
        self.image_size = image_size
        self.position = 0

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        out = self.answers[self.position: self.position + len(images)]
        self.position += len(images)
        return out


class LabelsFromDataset(DirectRegression):
    """A stand-in model that reads each batch's true labels from the dataset, in order."""

    def __init__(self, dataset) -> None:
        super().__init__(DirectRegressionConfig(DVAEConfig.tiny()))
        batch = collate_samples([dataset[i] for i in range(len(dataset))])
        self.truth = LabelTargets.from_batch(batch)
        self.left_logit = (batch.is_left.float() * 2 - 1) * 20
        self.position = 0

    def forward(self, images: torch.Tensor) -> DecodedLabels:
        rows = slice(self.position, self.position + len(images))
        self.position += len(images)
        return DecodedLabels(self.truth.canonical_pose[rows], self.truth.rotation_6d[rows], self.left_logit[rows],
                             torch.zeros(len(images), APPEARANCE_DIM))


@pytest.fixture
def tiny_dvae_checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return save_model(tmp_path / "dvae.safetensors", DVAE(DVAEConfig.tiny()))


@pytest.mark.slow
def test_cli_prints_a_json_line_with_every_metric(tmp_path: Path, tiny_dvae_checkpoint: Path) -> None:
    write_tiny_freihand(tmp_path / "frei")
    result = subprocess.run(
        [sys.executable, "-m", "train.evaluate.synthetic", "--checkpoint", str(tiny_dvae_checkpoint),
         "--dataset", f"freihand:{tmp_path / 'frei'}", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    values = last_json_line(result.stdout)
    assert set(JSON_KEYS) <= set(values)
    assert values["n"] == 3 and values["root_joint"] == "palm"
    assert all(isinstance(values[k], float) and values[k] >= 0 for k in JSON_KEYS[1:])
    assert "AUC 20-50" in result.stdout  # the table comes first


@pytest.mark.slow
def test_breakdown_lines_come_before_the_json_line(tmp_path: Path, capsys, tiny_dvae_checkpoint: Path) -> None:
    write_tiny_freihand(tmp_path / "frei", count=2)
    spec = f"freihand:{tmp_path / 'frei'}"
    assert ev.main(["--checkpoint", str(tiny_dvae_checkpoint), "--dataset", spec, "--breakdown", "--json"]) == 0
    out = capsys.readouterr().out
    assert "with the true viewpoint" in out and "true labels, no image" in out
    assert last_json_line(out)["n"] == 2
    evaluation_set = ev.open_evaluation_set(spec, "evaluation", 64)
    # the truth read back from the dataset's own labels leaves nothing to break down
    truth = ev.breakdown_of(LabelsFromDataset(evaluation_set.dataset), evaluation_set)
    assert truth.estimated_mm == pytest.approx(0.0, abs=1e-3) and truth.handedness_correct == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("build", [
    lambda: DirectRegression(DirectRegressionConfig(DVAEConfig.tiny())),
    lambda: CrossModalVAE(CrossModalConfig(DVAEConfig.tiny())),
])
def test_cli_evaluates_baseline_checkpoints(tmp_path: Path, capsys, build) -> None:
    write_tiny_freihand(tmp_path / "frei", count=2)
    path = save_baseline(tmp_path / "baseline.safetensors", build())
    assert ev.main(["--checkpoint", str(path), "--dataset", f"freihand:{tmp_path / 'frei'}", "--json"]) == 0
    out = capsys.readouterr().out
    assert last_json_line(out)["n"] == 2 and build().kind in out


def test_cli_names_a_checkpoint_of_another_kind(tmp_path: Path, capsys) -> None:
    from core.checkpoint import CheckpointMeta, save_checkpoint

    write_tiny_freihand(tmp_path / "frei", count=1)
    path = save_checkpoint(tmp_path / "odd.safetensors", {"w": torch.zeros(1)}, CheckpointMeta("someone/else", {}))
    assert ev.main(["--checkpoint", str(path), "--dataset", f"freihand:{tmp_path / 'frei'}"]) == 2
    err = capsys.readouterr().err
    assert "odd.safetensors" in err and "someone/else" in err


def test_ground_truth_predictions_give_zero_error_and_the_dataset_labels(tmp_path: Path) -> None:
    K, hands = write_tiny_freihand(tmp_path / "frei", count=3)
    evaluation_set = ev.open_evaluation_set(f"freihand:{tmp_path / 'frei'}", "evaluation", 64)
    rotations = np.stack([evaluation_set.dataset[i].crop_rotation.numpy() for i in range(3)])
    assert not np.allclose(rotations, np.eye(3), atol=1e-3)  # off-axis crops: the rotation matters
    result = ev.evaluate(GroundTruthEstimator(evaluation_set.dataset, 64), evaluation_set, batch_size=2)
    assert result.metrics.epe_mean_mm == pytest.approx(0.0, abs=1e-3)
    assert result.metrics.px_mean == pytest.approx(0.0, abs=1e-3)
    assert result.metrics.auc_20_50 == pytest.approx(1.0)
    document = ev.predictions_document(result, evaluation_set, "ground truth")
    xyz = np.array([s["xyz"] for s in document["samples"]])
    uv = np.array([s["uv"] for s in document["samples"]])
    np.testing.assert_allclose(xyz, hands, atol=0.05)  # float32 crops, 4-decimal JSON
    np.testing.assert_allclose(uv, np.stack([project(K[i], hands[i]) for i in range(3)]), atol=0.05)


def test_rhd_predictions_are_in_rhd_order_for_the_chosen_hand(tmp_path: Path) -> None:
    K = intrinsics(280.0, 160.0, 160.0)
    left = camera_hand(seed=1, centre_mm=(-60.0, 30.0, 520.0))
    right = camera_hand(seed=2, centre_mm=(50.0, -20.0, 480.0))
    write_rhd(tmp_path / "rhd", "evaluation", [(left, None), (None, right)], K)
    evaluation_set = ev.open_evaluation_set(f"rhd:{tmp_path / 'rhd'}", "evaluation", 64)
    result = ev.evaluate(GroundTruthEstimator(evaluation_set.dataset, 64), evaluation_set)
    document = ev.predictions_document(result, evaluation_set, "ground truth")
    assert [s["is_left"] for s in document["samples"]] == [True, False]
    xyz = np.array([s["xyz"] for s in document["samples"]])
    np.testing.assert_allclose(xyz, to_rhd(np.stack([left, right])), atol=0.05)
    np.testing.assert_allclose(from_rhd(xyz), np.stack([left, right]), atol=0.05)


def test_stb_predictions_are_in_stb_order_in_the_colour_camera(tmp_path: Path) -> None:
    """SK labels live in the depth camera; predictions come back in the colour camera's frame."""
    import cv2

    from core.data.loaders.stb import SK_COLOR_K, SK_COLOR_TO_DEPTH_ROTVEC, SK_COLOR_TO_DEPTH_T_MM
    from core.hand.joints import mirror_x, to_stb
    from tests.data_builders import write_stb

    K = np.array(SK_COLOR_K)
    hands = np.stack([mirror_x(camera_hand(seed=i, centre_mm=(-40.0 + 50 * i, 20.0, 550.0))) for i in range(2)])
    rotation = cv2.Rodrigues(np.array(SK_COLOR_TO_DEPTH_ROTVEC))[0]
    labels = hands @ rotation.T + np.array(SK_COLOR_TO_DEPTH_T_MM)
    for sequence in ("B1Counting", "B1Random"):
        write_stb(tmp_path, sequence, labels, "SK", ("SK_color",), project(K, hands))
    evaluation_set = ev.open_evaluation_set(f"stb:{tmp_path}", "evaluation", 64)
    result = ev.evaluate(GroundTruthEstimator(evaluation_set.dataset, 64), evaluation_set)
    assert result.metrics.epe_mean_mm == pytest.approx(0.0, abs=1e-3) and result.metrics.n == 4
    document = ev.predictions_document(result, evaluation_set, "ground truth")
    xyz = np.array([s["xyz"] for s in document["samples"]])
    np.testing.assert_allclose(xyz, to_stb(np.concatenate([hands, hands])), atol=0.05)
    uv = np.array([s["uv"] for s in document["samples"]])
    np.testing.assert_allclose(uv, project(K, to_stb(np.concatenate([hands, hands]))), atol=0.05)


def test_a_wrong_prediction_scores_worse_than_the_truth(tmp_path: Path) -> None:
    write_tiny_freihand(tmp_path / "frei", count=2)
    evaluation_set = ev.open_evaluation_set(f"freihand:{tmp_path / 'frei'}", "evaluation", 64)
    fake = GroundTruthEstimator(evaluation_set.dataset, 64)
    fake.answers = fake.answers.flip(0)  # each sample gets the other one's pose
    result = ev.evaluate(fake, evaluation_set)
    assert result.metrics.epe_mean_mm > 1.0 and result.metrics.px_mean > 0.5


def rhd_fixture_as_freihand(root: Path) -> int:
    """The 3 real RHD renders (COCO json with 3D ``joint_cam``) -> a FreiHAND-layout folder."""
    import cv2

    folder = REAL_HANDS / "rhd"
    data = json.loads((folder / "test_rhd.json").read_text())
    annotations = {a["image_id"]: a for a in data["annotations"]}
    images, Ks, xyz = [], [], []
    for entry in data["images"]:
        cam = entry["cam_param"]
        Ks.append(intrinsics(cam["focal"][0], cam["princpt"][0], cam["princpt"][1]))
        Ks[-1][1, 1] = cam["focal"][1]
        xyz.append(from_rhd(np.asarray(annotations[entry["id"]]["joint_cam"], np.float64)) / 1000.0)
        images.append(cv2.cvtColor(cv2.imread(str(folder / entry["file_name"])), cv2.COLOR_BGR2RGB))
    write_freihand_layout(root, "evaluation", images, np.stack(Ks), np.stack(xyz))
    return len(images)


@pytest.mark.slow
def test_cli_on_real_rhd_renders(tmp_path: Path, capsys, tiny_dvae_checkpoint: Path) -> None:
    if not (REAL_HANDS / "rhd" / "test_rhd.json").is_file():
        pytest.skip(f"real hand fixtures absent at {REAL_HANDS}")
    count = rhd_fixture_as_freihand(tmp_path / "rhd_as_frei")
    spec = f"freihand:{tmp_path / 'rhd_as_frei'}"
    out_file = tmp_path / "pred.json"
    assert ev.main(["--checkpoint", str(tiny_dvae_checkpoint), "--dataset", spec, "--json",
                    "--predictions", str(out_file)]) == 0
    values = last_json_line(capsys.readouterr().out)
    assert values["n"] == count and all(values[k] is not None for k in JSON_KEYS)
    # the ground truth itself round-trips through the real images' crops exactly
    evaluation_set = ev.open_evaluation_set(spec, "evaluation", 64)
    truth = ev.evaluate(GroundTruthEstimator(evaluation_set.dataset, 64), evaluation_set)
    assert truth.metrics.epe_mean_mm == pytest.approx(0.0, abs=1e-3)
    assert len(json.loads(out_file.read_text())["samples"]) == count


@pytest.mark.slow
def test_the_default_model_evaluates_real_photos_in_the_freihand_layout(tmp_path: Path, capsys) -> None:
    """The issue's command on real photos: the InterHand2.6M fixture frames, written as FreiHAND."""
    if not (REAL_HANDS / "interhand2.6m" / "test_interhand2.6m_data.json").is_file():
        pytest.skip(f"real hand fixtures absent at {REAL_HANDS}")
    hands = interhand_fixture_hands()
    assert len(hands) >= 4
    root = tmp_path / "interhand_as_frei"
    # a FreiHAND split has one image size: pad right and bottom, which leaves K as it is
    height, width = max(h[0].shape[0] for h in hands), max(h[0].shape[1] for h in hands)
    images = [np.pad(h[0], ((0, height - h[0].shape[0]), (0, width - h[0].shape[1]), (0, 0))) for h in hands]
    write_freihand_layout(root, "evaluation", images, np.stack([h[1] for h in hands]),
                          np.stack([h[2] for h in hands]) / 1000.0)
    spec = f"freihand:{root}"
    assert ev.main(["--checkpoint", "default", "--dataset", spec, "--json"]) == 0
    values = last_json_line(capsys.readouterr().out)
    assert values["n"] == len(hands) and all(np.isfinite(values[k]) for k in JSON_KEYS)
    # the labels survive the conversion and the crops: the truth itself scores zero, 2D included
    evaluation_set = ev.open_evaluation_set(spec, "evaluation", 64)
    truth = ev.evaluate(GroundTruthEstimator(evaluation_set.dataset, 64), evaluation_set)
    assert truth.metrics.epe_mean_mm == pytest.approx(0.0, abs=1e-3)
    assert truth.metrics.px_mean == pytest.approx(0.0, abs=0.05)


@pytest.mark.slow
def test_cli_on_the_synthetic_test_set(capsys, tiny_dvae_checkpoint: Path) -> None:
    pytest.importorskip("core.data.synthetic")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert ev.main(["--checkpoint", str(tiny_dvae_checkpoint), "--dataset", "synthetic", "--count", "6",
                        "--json"]) == 0
        assert ev.main(["--checkpoint", str(tiny_dvae_checkpoint), "--dataset", "synthetic", "--seed", "7"]) == 2
    finally:
        torch.set_num_threads(threads)
    captured = capsys.readouterr()
    values = last_json_line(captured.out)
    assert values["n"] == 6 and "seed 12345" in values["dataset"]
    assert "outside the reserved test range" in captured.err


def test_default_checkpoint_is_the_bundled_model(tmp_path: Path, capsys, monkeypatch, tiny_dvae_checkpoint: Path) -> None:
    import core.api

    write_tiny_freihand(tmp_path / "frei", count=1)
    spec = f"freihand:{tmp_path / 'frei'}"
    monkeypatch.setattr(core.api, "DEFAULT_MODEL_PATH", tmp_path / "missing.safetensors")
    assert ev.main(["--checkpoint", "default", "--dataset", spec]) == 2
    assert "no bundled model" in capsys.readouterr().err
    monkeypatch.setattr(core.api, "DEFAULT_MODEL_PATH", tiny_dvae_checkpoint)
    assert ev.main(["--checkpoint", "default", "--dataset", spec, "--json"]) == 0
    assert last_json_line(capsys.readouterr().out)["checkpoint"].startswith("default")


@pytest.mark.slow
def test_the_fit_beats_the_encoder_on_the_interhand_photos_and_writes_predictions(tmp_path: Path, capsys) -> None:
    """``--estimator fit`` on real photos in the FreiHAND layout: every sample gets a prediction
    (the encoder's where MediaPipe finds no hand) and the 3D error falls below the encoder's."""
    from core.finder import mediapipe_available

    if not (REAL_HANDS / "interhand2.6m" / "test_interhand2.6m_data.json").is_file():
        pytest.skip(f"real hand fixtures absent at {REAL_HANDS}")
    if not mediapipe_available():
        pytest.skip("mediapipe is not installed (Python >= 3.13)")
    hands = interhand_fixture_hands()
    root = tmp_path / "interhand_as_frei"
    height, width = max(h[0].shape[0] for h in hands), max(h[0].shape[1] for h in hands)
    images = [np.pad(h[0], ((0, height - h[0].shape[0]), (0, width - h[0].shape[1]), (0, 0))) for h in hands]
    write_freihand_layout(root, "evaluation", images, np.stack([h[1] for h in hands]),
                          np.stack([h[2] for h in hands]) / 1000.0)
    spec, out_file = f"freihand:{root}", tmp_path / "fit.json"
    assert ev.main(["--checkpoint", "default", "--dataset", spec, "--estimator", "encoder", "--json"]) == 0
    encoder = last_json_line(capsys.readouterr().out)
    assert ev.main(["--checkpoint", "default", "--dataset", spec, "--estimator", "fit", "--json",
                    "--predictions", str(out_file)]) == 0
    out = capsys.readouterr().out
    fit = last_json_line(out)
    assert fit["n"] == encoder["n"] == len(hands) and "fitted to MediaPipe's landmarks" in out
    assert len(json.loads(out_file.read_text())["samples"]) == len(hands)
    assert fit["epe_mean_mm"] < 0.85 * encoder["epe_mean_mm"]


def test_the_fit_needs_a_dvae(tmp_path: Path, capsys) -> None:
    write_tiny_freihand(tmp_path / "frei", count=1)
    path = save_baseline(tmp_path / "baseline.safetensors", DirectRegression(DirectRegressionConfig(DVAEConfig.tiny())))
    assert ev.main(["--checkpoint", str(path), "--dataset", f"freihand:{tmp_path / 'frei'}", "--estimator", "fit"]) == 2
    assert "needs a dVAE" in capsys.readouterr().err
