"""python -m train.evaluate.photo_fit on a few fixture photos: the fit lies nearer the labelled joints
than the encoder alone, and a box MediaPipe reads a hand in outscores the boxes on no hand."""
from __future__ import annotations

import numpy as np
import pytest

from core.api import HandModel
from core.finder import mediapipe_available
from core.photo_estimate import default_box_reader
from tests.data_builders import REAL_HANDS
from train.evaluate import photo_fit as photo_fit_eval
from train.fixtures import fixture_hands

pytestmark = [pytest.mark.skipif(not REAL_HANDS.is_dir(), reason=f"real hand fixtures absent at {REAL_HANDS}"),
              pytest.mark.skipif(not mediapipe_available(), reason="mediapipe is not installed (Python >= 3.13)"),
              pytest.mark.slow]  # one module fixture fits every fixture photo


@pytest.fixture(scope="module")
def measured():
    photos = [p for p in fixture_hands(REAL_HANDS) if p.photo.dataset in ("rhd", "onehand10k")]
    model, reader = HandModel.load(), default_box_reader()
    return photos, photo_fit_eval.measure_hands(model, photos, reader), photo_fit_eval.measure_scores(model, photos, reader)


def test_the_fit_lies_nearer_the_labelled_joints_than_the_encoder(measured):
    photos, (results, read, seconds), _ = measured
    assert read >= 5 and len(seconds) == 2 * read
    encoder, fit = (np.mean([r.error_px for r in results[name]]) for name in (photo_fit_eval.ROWS[0], photo_fit_eval.ROWS[3]))
    assert fit < 0.6 * encoder
    assert all(len(rows) == sum(len(p.hands) for p in photos) for rows in results.values())


def test_boxes_mediapipe_reads_a_hand_in_outscore_boxes_on_no_hand(measured):
    _, _, scores = measured
    read = [s["score"] for s in scores if s["landmarks"]]
    elsewhere = [s["score"] for s in scores if s["kind"] != "hand"]
    assert read and elsewhere and min(read) > max(elsewhere)
    assert not any(s["landmarks"] for s in scores if s["kind"] != "hand")
    table = "\n".join(photo_fit_eval.score_table(scores))
    assert "| hand |" in table and "on no hand" in table
