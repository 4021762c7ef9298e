"""The side of the hand by test-time flip consistency (``HandModel.read_side``, ``core.sides``)
and ``python -m train.evaluate.real``, the pose model on the real fixture photos (the fixture runs
skip when the shared fixtures are absent)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core import HandModel
from core.data.crop import crop_square
from core.finder import Detection
from core.models.config import DVAEConfig
from core.sides import left_probability
from tests.data_builders import REAL_HANDS
from train.evaluate import real as real_eval
from train.hand_finder.match import Photo
from train.hand_finder.match import LabelledHand
from train.fixtures import FixtureHand, FixturePhoto, JointLabels, fixture_hands


class SkewedReader(torch.nn.Module):
    """A side reader we control: logit = 4 * (left half's mean - right half's mean) + bias."""

    def __init__(self, bias: float) -> None:
        super().__init__()
        self.bias = bias

    def image_posterior(self, x: torch.Tensor) -> SimpleNamespace:
        half = x.shape[-1] // 2
        return SimpleNamespace(mu=(x[..., :half].mean((1, 2, 3)) - x[..., half:].mean((1, 2, 3)))[:, None])

    def decode_labels(self, mu: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(left_logit=4.0 * mu[:, 0] + self.bias)


def test_the_flip_rule_combines_the_two_readings_and_cancels_a_skewed_reader():
    x = torch.zeros(2, 3, 8, 8)
    x[0, :, :, :4] = 1.0  # bright left half: the reader's "left"
    x[1, :, :, 4:] = 1.0
    reader = SkewedReader(bias=6.0)  # reads every image as left
    p, p_mirror = left_probability(reader, x), left_probability(reader, x.flip(-1))
    assert (p > 0.5).all() and (p_mirror > 0.5).all()
    flip = left_probability(reader, x, flip=True)
    torch.testing.assert_close(flip, 0.5 * (p + 1.0 - p_mirror))
    assert flip[0] > 0.5 > flip[1]  # the bias cancels: the bright-left image reads left, its mirror right
    torch.testing.assert_close(left_probability(reader, x.flip(-1), flip=True), 1.0 - flip)


def test_read_side_is_the_models_side_and_mirrors_with_the_flip_rule():
    model = HandModel.untrained(DVAEConfig.tiny(), seed=1)
    rng = np.random.default_rng(0)
    s = model.image_size
    crops = rng.integers(0, 255, (8, s, s, 3), dtype=np.uint8)
    mirrored = np.ascontiguousarray(crops[:, :, ::-1])
    p, p_mirror = model.read_side(crops), model.read_side(mirrored)
    assert p.shape == (8,) and p.dtype == np.float32 and ((p >= 0) & (p <= 1)).all()
    np.testing.assert_array_equal(p > 0.5, model.estimate(crops).is_left)
    assert model.read_side(crops[0]).shape == (1,)
    flip, flip_mirror = model.read_side(crops, flip=True), model.read_side(mirrored, flip=True)
    np.testing.assert_allclose(flip, (p + 1.0 - p_mirror) / 2.0, atol=1e-6)
    np.testing.assert_allclose(flip_mirror, 1.0 - flip, atol=1e-6)
    clear = np.abs(flip - 0.5) > 1e-5
    assert clear.any()
    np.testing.assert_array_equal((flip_mirror > 0.5)[clear], ~(flip > 0.5)[clear])
    sides = model.estimate(crops, is_left=flip > 0.5).is_left
    np.testing.assert_array_equal(model.estimate(mirrored, is_left=flip_mirror > 0.5).is_left[clear], ~sides[clear])


def _photo_with_two_hands() -> FixturePhoto:
    image = np.full((120, 160, 3), 90, np.uint8)
    hands = []
    for x0, left in ((20.0, True), (100.0, False)):
        kp = np.stack([np.linspace(x0, x0 + 30.0, 21), np.linspace(30.0, 70.0, 21)], 1)
        hands.append(FixtureHand(LabelledHand(kp, left), JointLabels(kp, np.ones(21, bool))))
    return FixturePhoto(Photo("toy", "toy.png", image, [h.hand for h in hands]), hands)


def test_finder_framing_takes_the_matched_boxes_and_counts_the_missing():
    photo = _photo_with_two_hands()
    first = photo.hands[0].box
    shifted = tuple(v + 2.0 for v in first)
    finder = SimpleNamespace(find=lambda image: [Detection((0.0, 0.0, 10.0, 10.0), 0.9, False),
                                                 Detection(shifted, 0.8, True)])
    model = HandModel.untrained(DVAEConfig.tiny())
    model.finder = finder
    framed, missing = real_eval.frame_hands(model, [photo], "finder")
    assert [f.box for f in framed] == [shifted] and framed[0].hand is photo.hands[0]
    assert [m.hand for m in missing] == [photo.hands[1]]
    np.testing.assert_array_equal(framed[0].crop, crop_square(photo.photo.image, (shifted[0], shifted[1], shifted[2] - shifted[0]), 32))
    rows = real_eval.group("model", real_eval.measure(model, framed, "model"), missing, ["toy"])
    assert [(r.dataset, len(r.results), r.missing) for r in rows] == [("toy", 1, 1), ("all", 1, 1)]
    labelled, _ = real_eval.frame_hands(model, [photo], "labelled")
    assert [f.box for f in labelled] == [h.box for h in photo.hands]


def test_the_found_rule_estimates_each_hand_as_the_side_its_box_was_given():
    photo = _photo_with_two_hands()
    model = HandModel.untrained(DVAEConfig.tiny())
    boxes = [h.box for h in photo.hands]  # MediaPipe's sides stay as found: the wrong ones here
    model.finder = SimpleNamespace(find=lambda image: [Detection(boxes[0], 1.0, False, 0.9, "mediapipe"),
                                                       Detection(boxes[1], 1.0, True, 0.9, "mediapipe")])
    framed, _ = real_eval.frame_hands(model, [photo], "finder")
    assert [f.found_left for f in framed] == [False, True]
    assert [r.side_right for r in real_eval.measure(model, framed, "found")] == [False, False]


def test_without_fixtures_or_finder_it_says_so(tmp_path, capsys):
    assert real_eval.main(["--fixtures", str(tmp_path / "absent")]) == 2  # not "0: nothing measured"
    assert "no fixture photos" in capsys.readouterr().err
    path = HandModel.untrained(DVAEConfig.tiny()).save(tmp_path / "tiny.safetensors")
    args = ["--fixtures", str(tmp_path), "--checkpoint", str(path), "--framing", "finder"]
    assert real_eval.main(args + ["--finder", str(tmp_path / "no_finder.safetensors")]) == 2
    assert "no hand finder" in capsys.readouterr().err


@pytest.mark.slow
def test_the_measurement_on_the_fixtures_writes_its_section(tmp_path, capsys):
    if not REAL_HANDS.is_dir():
        pytest.skip(f"real hand fixtures absent at {REAL_HANDS}")
    path = HandModel.untrained(DVAEConfig.tiny()).save(tmp_path / "tiny.safetensors")
    doc = tmp_path / "results.md"
    doc.write_text(f"# Results\n\nbefore\n\n{real_eval.START}\nold\n{real_eval.END}\n\nafter\n")
    args = ["--checkpoint", str(path), "--fixtures", str(REAL_HANDS), "--write-results", str(doc), "--json"]
    assert real_eval.main(args) == 0
    text = doc.read_text()
    assert "old" not in text and text.startswith("# Results\n\nbefore") and text.rstrip().endswith("after")
    assert "## The pose estimate on real fixture photos" in text and "`python -m train.evaluate.real --checkpoint" in text
    hands = [h for p in fixture_hands(REAL_HANDS) for h in p.hands]
    labelled = sum(h.is_left is not None for h in hands)
    for rule, count in (("model", len(hands)), ("flip", len(hands)), ("labelled", labelled)):
        assert f"| {rule} | all | {count} |" in text
    assert "| labelled | interhand2.6m | 6 |" in text and "| labelled | onehand10k |" not in text
    totals = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert totals["rules"]["labelled"]["side_right"] == totals["rules"]["labelled"]["side_known"] == labelled
    assert totals["rules"]["model"]["hands"] == len(hands) and totals["rules"]["model"]["pa_epe_mm"] > 0
    other = tmp_path / "other.md"
    other.write_text("# Other\n")
    assert real_eval.main(args[:4] + ["--write-results", str(other)]) == 0
    assert other.read_text().startswith("# Other\n\n" + real_eval.START) and other.read_text().rstrip().endswith(real_eval.END)
