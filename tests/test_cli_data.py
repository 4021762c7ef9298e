"""``python -m train.data``: resumable, deterministic generation and preview sheets."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.data.loaders.cached import SyntheticCachedDataset
from train.data import LABEL_ARRAYS, generate, main, preview

SIZE = 64


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "chunks" not in p.parts}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole")
    generate(out, count=6, seed=2, size=SIZE, chunk=4, batch_size=4, progress=False)
    return out


def test_an_interrupted_run_resumes_to_the_same_files(uninterrupted, tmp_path):
    # "Interrupted" after the first chunk: a run asked for 4 samples, then the full run.
    first = generate(tmp_path, count=4, seed=2, size=SIZE, chunk=4, batch_size=4, progress=False)
    assert first["written"] == 4
    resumed = generate(tmp_path, count=6, seed=2, size=SIZE, chunk=4, batch_size=4, progress=False)
    assert resumed["written"] == 2 and resumed["skipped"] == 4
    whole, parts = _files(uninterrupted), _files(tmp_path)
    assert whole.keys() == parts.keys()
    assert len([k for k in whole if k.endswith(".jpg")]) == 12  # rgb + content
    for name in whole:  # images, masks and labels: byte for byte
        assert whole[name] == parts[name], name
    a = np.load(uninterrupted / "training_dvae_labels.npz")
    b = np.load(tmp_path / "training_dvae_labels.npz")
    for key in a.files:
        assert np.array_equal(a[key], b[key]), key
    # A finished folder has nothing left to do.
    again = generate(tmp_path, count=6, seed=2, size=SIZE, chunk=4, batch_size=3, progress=False)
    assert again["written"] == 0


def test_other_settings_in_the_same_folder_are_refused(uninterrupted):
    with pytest.raises(SystemExit, match="seed"):
        generate(uninterrupted, count=6, seed=3, size=SIZE, chunk=4, progress=False)


def test_the_cached_loader_reads_what_generate_wrote(uninterrupted):
    labels = np.load(uninterrupted / "training_dvae_labels.npz")
    assert set(LABEL_ARRAYS) - {"K", "xyz_m"} <= set(labels.files)
    xyz = np.array(json.loads((uninterrupted / "training_xyz.json").read_text()))
    K = np.array(json.loads((uninterrupted / "training_K.json").read_text()))
    assert xyz.shape == (6, 21, 3) and K.shape == (6, 3, 3)
    assert 0.1 < np.median(xyz[..., 2]) < 1.5  # metres
    uv = np.einsum("nij,nkj->nki", K, xyz)
    assert np.allclose(uv[..., :2] / uv[..., 2:], labels["keypoints_2d"], atol=1e-3)
    dataset = SyntheticCachedDataset(uninterrupted)
    assert len(dataset) == 6
    sample = dataset[1]
    assert np.allclose(sample.keypoints_2d.numpy(), labels["keypoints_2d"][1], atol=1e-2)
    assert np.array_equal(sample.visible.numpy(), labels["visible"][1])
    assert bool(sample.has_content)
    mask = cv2.imread(str(uninterrupted / "training" / "mask" / "00000001.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (SIZE, SIZE) and mask.max() == 255


def test_preview_sheets_from_a_folder_and_from_the_renderer(uninterrupted, tmp_path):
    sheet = preview(str(uninterrupted), tmp_path / "folder.png", count=6, columns=3)
    image = cv2.imread(str(sheet))
    assert image.shape[0] == 2 * SIZE + 2 and image.shape[1] == 3 * SIZE + 4
    assert main(["preview", "synthetic", "--out", str(tmp_path / "live.png"), "--count", "2", "--size", str(SIZE),
                 "--zoom", "2"]) == 0
    assert cv2.imread(str(tmp_path / "live.png")).shape[:2] == (2 * SIZE, 4 * SIZE + 2)


@pytest.mark.slow
def test_help_runs():
    result = subprocess.run([sys.executable, "-m", "train.data", "generate", "--help"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert result.returncode == 0 and "--count" in result.stdout


@pytest.mark.slow
def test_evaluate_reads_a_generated_folder_without_a_split_option(uninterrupted, tmp_path, capsys):
    from core.api import HandModel
    from core.models.config import DVAEConfig
    from train.evaluate import synthetic as evaluate

    checkpoint = HandModel.untrained(DVAEConfig.tiny()).save(tmp_path / "model.safetensors")
    assert evaluate.main(["--checkpoint", str(checkpoint), "--dataset", f"synthetic:{uninterrupted}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 6
