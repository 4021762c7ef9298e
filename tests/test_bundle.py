"""Nothing overwrites a bundled file unless asked: training writes to its run folder, and
``python -m train.bundle`` is the one explicit step that writes into ``assets/``."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.api import DEFAULT_MODEL_PATH, HandModel
from core.models.config import DVAEConfig
from train import bundle
from train.hand_finder import training as hand_finder

ROOT = Path(__file__).resolve().parents[1]


def test_bundle_writes_a_checked_float16_model_where_asked(tmp_path, capsys) -> None:
    source = HandModel.untrained(DVAEConfig.tiny()).save(tmp_path / "run" / "model.safetensors")
    target = tmp_path / "assets" / "default_model.safetensors"
    assert bundle.main(["model", str(source), "--to", str(target)]) == 0
    assert HandModel.load(target).image_size == HandModel.load(source).image_size
    assert target.stat().st_size < source.stat().st_size  # float16
    # a finder is not a model, and a missing file is named: nothing written either way
    other = tmp_path / "other.safetensors"
    assert bundle.main(["finder", str(source), "--to", str(other)]) == 2
    assert bundle.main(["model", str(tmp_path / "absent.safetensors"), "--to", str(other)]) == 2
    assert not other.exists()
    assert "absent.safetensors" in capsys.readouterr().err


def test_by_default_bundle_targets_the_files_the_app_opens() -> None:
    assert bundle.BUNDLED["model"] == DEFAULT_MODEL_PATH
    assert bundle.BUNDLED["finder"].parent == DEFAULT_MODEL_PATH.parent


def test_the_finder_training_has_no_flag_that_writes_into_assets(tmp_path) -> None:
    with pytest.raises(SystemExit) as info:
        hand_finder.parse_args(["--export", str(tmp_path / "x.safetensors")])
    assert info.value.code == 2


def test_no_readme_command_writes_into_assets_but_the_bundling_step() -> None:
    """Every README line that names a file under assets/ as an output is ``train.bundle``'s."""
    lines = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("python -m train.")]
    writers = [line for line in lines if "assets/" in line and not line.startswith("python -m train.bundle")]
    assert writers == []
    assert any(line.startswith("python -m train.bundle model") for line in lines)
    assert any(line.startswith("python -m train.bundle finder") for line in lines)
