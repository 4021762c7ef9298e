"""The hand finder's command lines: training (a tiny run, resumed) and the measurement on the
fixture photos (skipped when the shared fixtures are absent)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from core.finder import HandFinderConfig, HandFinderNet, load_finder, save_finder
from tests.data_builders import REAL_HANDS
from train import bundle
from train.fixtures import fixture_photos, unlabelled_photos
from train.hand_finder import eval as hand_finder_eval
from train.hand_finder import training as hand_finder


@pytest.mark.slow
def test_training_writes_a_finder_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--minutes", "0.01", "--out", str(out), "--pool", "8", "--batch", "2", "--validation", "2", "--threads", "1"]
    assert hand_finder.main(args) == 0
    curve = [json.loads(line) for line in (out / "curve.jsonl").read_text().splitlines()]
    assert curve and curve[-1]["hands"] >= 0 and 0.0 <= curve[-1]["found"] <= 1.0
    assert (out / "hand_finder.safetensors").is_file()
    assert "python -m train.bundle finder" in capsys.readouterr().err  # bundling is a separate step
    half = tmp_path / "half.safetensors"
    assert bundle.main(["finder", str(out / "hand_finder.safetensors"), "--to", str(half)]) == 0
    net, _, tensors = load_finder(half)
    assert all(t.dtype == torch.float16 for t in tensors.values() if t.is_floating_point())
    assert hand_finder.main(args) == 2  # the run exists: refused without --resume
    assert "--resume" in capsys.readouterr().err
    more = f"{curve[-1]['minutes'] + 0.03:.2f}"  # past the first run's time however long its step took
    assert hand_finder.main(args[:1] + [more] + args[2:] + ["--resume"]) == 0
    assert json.loads((out / "curve.jsonl").read_text().splitlines()[-1])["step"] > curve[-1]["step"]


def test_the_fixture_hands_are_all_read():
    if not REAL_HANDS.is_dir():
        pytest.skip(f"real hand fixtures absent at {REAL_HANDS}")
    photos = fixture_photos(REAL_HANDS)
    by_set = {}
    for photo in photos:
        by_set[photo.dataset] = by_set.get(photo.dataset, 0) + len(photo.hands)
    # Panoptic's _l/_r files are one frame with two hands; InterHand2.6M: 6 fully labelled hands
    assert by_set == {"onehand10k": 4, "panoptic": 4, "freihand": 8, "rhd": 3, "interhand2.6m": 6}
    assert sum(1 for p in photos if p.dataset == "panoptic") == 2


@pytest.mark.slow
def test_the_measurement_writes_its_section_and_sheet(tmp_path, capsys):
    if not REAL_HANDS.is_dir():
        pytest.skip(f"real hand fixtures absent at {REAL_HANDS}")
    finder = save_finder(tmp_path / "f.safetensors", HandFinderNet(HandFinderConfig(widths=(4, 4, 8, 8), hidden=8)))
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\nbefore\n")
    sheet, first = tmp_path / "img" / "sheet.png", tmp_path / "img" / "first.png"
    assert hand_finder_eval.main(["--finder", str(finder), "--renders", "4", "--write-results", str(doc),
                                  "--sheet", str(sheet), "--unlabelled-sheet", str(first), "--json"]) == 0
    totals = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert totals["real_hands"] == 25
    groups = totals["render_groups"]  # every composite hand in one size band and one border group
    bands = [v for k, v in groups.items() if k.endswith("px")]
    assert sum(h for h, _ in bands) == totals["render_hands"] == groups["whole in the picture"][0] + groups["cut by the border"][0]
    text = doc.read_text()
    assert text.startswith("# Results\n\nbefore") and hand_finder_eval.START in text and "| all real photos |" in text
    assert "](img/sheet.png)" in text
    assert cv2.imread(str(sheet)).shape[1] == 6 * 256
    unlabelled = len(unlabelled_photos(REAL_HANDS))  # 45 (2026-12-06)
    assert cv2.imread(str(first)).shape[:2] == (-(-unlabelled // 9) * 240, 9 * 240)


def test_the_breakdown_counts_found_hands_by_size_and_border_cut():
    from core.finder import Detection, keypoint_box
    from train.hand_finder.match import LabelledHand, Photo

    small = LabelledHand(np.array([[10.0, 10.0], [25.0, 22.0]]))          # box side 20 px
    large = LabelledHand(np.array([[0.0, 100.0], [90.0, 180.0]]), cut=True)  # box side 120 px
    photo = Photo("renders", "c", np.zeros((200, 200, 3), np.uint8), [small, large])
    found = [Detection(keypoint_box(large.keypoints), 0.9, False, 0.5)]  # only the large hand is boxed
    groups = {name: (hands, hits) for name, hands, hits in hand_finder_eval.breakdown([photo], [found])}
    assert groups["0-32 px"] == (1, 0) and groups["64-128 px"] == (1, 1) and groups["32-64 px"] == (0, 0)
    assert groups["whole in the picture"] == (1, 0) and groups["cut by the border"] == (1, 1)
    assert "| 64-128 px | 1 | 1 (100%) |" in hand_finder_eval.breakdown_lines(list(
        (n, h, f) for n, (h, f) in groups.items()))


@pytest.mark.slow
def test_a_run_can_start_from_a_trained_finder(tmp_path, capsys):
    small = HandFinderNet(HandFinderConfig(widths=(4, 4, 8, 8), hidden=8))
    start = save_finder(tmp_path / "start.safetensors", small, step=7, half=True)
    out = tmp_path / "run"
    args = ["--minutes", "0.001", "--out", str(out), "--pool", "8", "--batch", "2", "--validation", "2",
            "--threads", "1", "--lr", "0"]
    assert hand_finder.main(args + ["--init", str(start)]) == 0
    trained, _, _ = load_finder(out / "hand_finder.safetensors")
    # the run keeps the starting finder's config and, at learning rate 0, its (float16) weights
    # (batch-norm statistics move in training, so parameters only)
    assert trained.config == small.config
    learnt = dict(trained.named_parameters())
    for name, value in small.named_parameters():
        assert torch.equal(learnt[name], value.detach().half().float()), name
    assert hand_finder.main(args + ["--init", str(start), "--resume"]) == 2
    assert hand_finder.main(["--out", str(tmp_path / "other"), "--init", str(tmp_path / "absent.safetensors")]) == 2
    assert "absent.safetensors" in capsys.readouterr().err


def test_the_missed_sheet_shows_each_hand_no_box_found_and_no_other():
    from core.finder import Detection, keypoint_box
    from train.hand_finder.match import LabelledHand, Photo
    from train.hand_finder.sheets import missed_sheet

    image = np.zeros((200, 200, 3), np.uint8)
    image[40:60, 40:60] = 255                         # the hand missed is white...
    small = LabelledHand(np.array([[40.0, 40.0], [59.0, 59.0]]))
    large = LabelledHand(np.array([[100.0, 100.0], [190.0, 180.0]]))
    found = [Detection(keypoint_box(large.keypoints), 0.9, False, 0.5)]
    sheet = missed_sheet([Photo("renders", "c", image, [small, large])], [found], tile=160, columns=10)
    assert sheet.shape == (160, 1600, 3)             # one close-up, padded to a row
    assert sheet[:, 160:].max() == 0                  # no tile for the hand found
    assert sheet[60:100, 60:100].mean() > 200         # ...and fills the centre of its close-up
    nothing = missed_sheet([Photo("renders", "c", image, [large])], [found])
    assert nothing.max() == 0
