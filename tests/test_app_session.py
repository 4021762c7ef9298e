"""``app.session.Session`` with the synchronous runner: no window, no widget, no event loop."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app.jobs import SyncRunner
from app.model_service import ModelService
from app.session import Session, _replace_transfer
from app.transfer import TransferState
from core.models.config import CONTENT, POSE_BLOCKS, DVAEConfig, LatentBlock, LatentLayout

ROOT = Path(__file__).resolve().parents[1]


def tiny(seed: int = 0, config: DVAEConfig | None = None) -> ModelService:
    return ModelService.untrained(config or DVAEConfig.tiny(), seed=seed)


@pytest.fixture
def session() -> Session:
    session = Session(tiny(), SyncRunner())
    session.start()
    return session


def block(session: Session, z: np.ndarray, name: str) -> np.ndarray:
    return z[session.model.block(name).slice]


def test_start_shows_the_latents_image_and_pose_and_records_one_step(session):
    z = session.latent.value
    assert session.image.image.shape == (32, 32, 3)
    np.testing.assert_array_equal(session.image.latent, z)
    np.testing.assert_array_equal(session.image.image, session.model.decode(z))
    assert session.pose.hand is not None and session.pose.hand.is_left == session.model.decode_is_left(z)
    assert not session.history.can_undo()
    assert {"decode", "pose", "commit:1", "transfer"} <= set(session.runner.keys)
    assert all(session.transfer.images[k] is not None for k in ("A", "B", "result"))


def test_a_gesture_changes_only_the_pose_blocks_and_undo_brings_the_latent_back(session):
    before = session.latent.value
    session.apply_preset("fist")
    after = session.latent.value
    for name in (b.name for b in session.model.blocks):
        changed = not np.array_equal(block(session, before, name), block(session, after, name))
        assert changed == (name in POSE_BLOCKS), name
    np.testing.assert_array_equal(session.image.image, session.model.decode(after))
    assert session.history.undo_label() == "gesture fist"
    session.undo()
    np.testing.assert_array_equal(session.latent.value, before)
    np.testing.assert_array_equal(session.image.image, session.model.decode(before))
    session.redo()
    np.testing.assert_array_equal(session.latent.value, after)


def test_randomising_one_block_keeps_the_others_and_is_one_undo_step(session):
    before = session.latent.value
    session.randomise_latent(CONTENT)
    after = session.latent.value
    assert not np.array_equal(block(session, before, CONTENT), block(session, after, CONTENT))
    for b in session.model.blocks:
        if b.name != CONTENT:
            np.testing.assert_array_equal(after[b.slice], before[b.slice])
    assert session.history.undo_label() == f"randomise {CONTENT}"


def test_a_failing_model_call_is_posted_as_an_error(session, monkeypatch):
    def broken(_latent):
        raise RuntimeError("no decoder")

    monkeypatch.setattr(session.model, "decode", broken)
    session.latent.set_dim(0, 1.5, "slider")
    assert session.messages.messages[-1].level == "error"
    assert session.messages.messages[-1].text == "decode failed: RuntimeError: no decoder"


def test_another_model_gets_a_new_transfer_state_and_the_old_one_is_left_alone(session):
    old = session.transfer
    old.keep("A", session.latent.value, None, "kept edit")
    kinds, samples = dict(old.kinds), {k: v.copy() for k, v in old.samples.items()}
    seen = []
    session.transfer_replaced.connect(seen.append)
    small = DVAEConfig.tiny()
    wider = replace(small, layout=LatentLayout(small.layout.blocks + (LatentBlock("extra", 2),)))
    session.set_model(tiny(config=wider))
    new = session.transfer
    assert new is not old and seen == [new]
    assert old.kinds == kinds and "A" in old.kept
    assert all(np.array_equal(old.samples[k], samples[k]) for k in samples)
    assert new.kinds == {"A": "sample", "B": kinds["B"]} and not new.kept
    assert all(len(v) == session.model.dim == old.samples["A"].shape[0] + 2 for v in new.samples.values())
    assert all(new.images[k] is not None for k in ("A", "B", "result"))
    keys = len(session.runner.keys)
    old.set_kind("B", "sample")  # the session no longer follows the old state
    assert len(session.runner.keys) == keys
    new.set_kind("B", "sample")
    assert session.runner.keys[-1] == "transfer"


def test_replacing_the_transfer_state_returns_a_new_object_and_mutates_nothing():
    rng = np.random.default_rng(0)
    old = TransferState(4, rng)
    old.keep("B", np.ones(4), None, "kept")
    old.set_images(*(np.zeros((2, 2, 3), np.uint8),) * 3)
    notified = []
    old.sources_changed.connect(lambda: notified.append("sources"))
    old.images_changed.connect(lambda: notified.append("images"))
    new = _replace_transfer(old, 6, rng)
    assert new is not old and not notified
    assert old.kinds == {"A": "sample", "B": "kept"} and old.samples["A"].shape == (4,)
    assert old.images["result"] is not None
    assert new.kinds == {"A": "sample", "B": "sample"} and new.samples["B"].shape == (6,) and not new.kept
    assert new.images == {"A": None, "B": None, "result": None}


@pytest.mark.slow
def test_the_session_imports_no_qt():
    code = "import sys, app.session, app.jobs, app.edits; print(sorted(m for m in sys.modules if 'PySide' in m))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
