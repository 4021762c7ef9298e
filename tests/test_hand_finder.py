"""The hand finder: box framing, decoding, checkpoints, training data, and the bundled finder."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.checkpoint import CheckpointError
from core.finder import DEFAULT_FINDER_PATH, Detection, HandFinder, HandFinderConfig, HandFinderNet, keypoint_box
from core.finder.boxes import box_iou, decode_votes, suppress
from core.finder.finder import load_finder, save_finder
from train.hand_finder_data import CompositeConfig, CompositeMaker
from train.hand_finder_loss import finder_loss, make_targets
from train.hand_finder_match import LabelledHand, match

SMALL = CompositeConfig(canvas=96, render_size=64, pool_size=8, renew_per_batch=2, box_px=(30.0, 80.0))


def test_keypoint_box_is_the_training_crop_framing():
    kp = np.array([[10.0, 20.0], [40.0, 30.0], [25.0, 80.0]])  # box 30 x 60, centre (25, 50)
    x0, y0, x1, y1 = keypoint_box(kp)
    assert (x1 - x0) == pytest.approx(80.0) and (y1 - y0) == pytest.approx(80.0)  # 4/3 of 60, square
    assert (0.5 * (x0 + x1), 0.5 * (y0 + y1)) == pytest.approx((25.0, 50.0))
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)


def test_cells_voting_for_one_centre_decode_to_its_box():
    config = HandFinderConfig()
    s, h = config.stride, config.input_size // config.stride
    coverage = torch.full((1, h, h), -9.0)
    coverage[0, 8:20, 10:22] = 6.0           # a 12 x 12 cell hand...
    side = torch.full((1, h, h), 4.0)         # ...that says it is a left one
    size = torch.full((1, h, h), float(np.log(80.0)))
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(h), indexing="ij")
    centre = torch.tensor([70.0, 60.0])      # every cell points at (70, 60) px
    vector = torch.stack([(centre[0] - ((xs + 0.5) * s - 0.5)) / 80.0, (centre[1] - ((ys + 0.5) * s - 0.5)) / 80.0])
    (det,) = decode_votes(coverage, side, vector, size, s, 0.3, 5)
    assert det.is_left and det.score == pytest.approx(1.0) and det.side == pytest.approx(80.0, rel=1e-4)
    assert det.centre == pytest.approx((70.0, 60.0), abs=1e-3)
    coverage[:] = -9.0
    assert decode_votes(coverage, side, vector, size, s, 0.3, 5) == []


def test_suppression_keeps_two_clasped_hands_of_other_sides_but_not_one_hand_twice():
    a = Detection((0, 0, 100, 100), 0.9, False)
    same = Detection((5, 5, 105, 105), 0.8, True)       # IoU 0.82: the same hand seen as the other side
    clasped = Detection((30, 0, 130, 100), 0.7, True)   # IoU 0.54: another hand
    kept = suppress([clasped, same, a], 0.5, 0.75, 10)
    assert kept == [a, clasped]


def test_checkpoint_round_trip_and_refusal(tmp_path):
    net = HandFinderNet(HandFinderConfig(input_size=64, widths=(4, 4, 8, 8, 8), head_width=8))
    path = save_finder(tmp_path / "f.safetensors", net, step=7, half=True)
    loaded, meta, _ = load_finder(path)
    assert meta.step == 7 and loaded.config == net.config
    x = torch.rand(1, 3, 64, 64)
    net.eval()
    assert torch.allclose(loaded(x)[0], net(x)[0], atol=0.05)
    from core.checkpoint import CheckpointMeta, save_checkpoint
    other = save_checkpoint(tmp_path / "other.safetensors", {"w": torch.zeros(1)}, CheckpointMeta("x/other", {}))
    with pytest.raises(CheckpointError, match="another architecture"):
        load_finder(other)


def test_composites_hold_labelled_hands_and_targets_peak_at_them():
    maker = CompositeMaker(SMALL, seed=3)
    canvases = maker.batch(6)
    assert all(c.image.shape == (96, 96, 3) and 0 <= c.image.min() and c.image.max() <= 1 for c in canvases)
    hands = [h for c in canvases for h in c.hands]
    assert hands, "six canvases without a single hand"
    for box, _, kp in hands:
        assert box == pytest.approx(keypoint_box(kp))
    config = HandFinderConfig(input_size=96)
    targets = make_targets(canvases, config)
    owned = targets.owned[:, 0].bool()
    assert owned.any() and float(targets.coverage.max()) <= 1.0
    # owned cells point at their hand's centre: the cell centre plus vector x side lands on a box centre
    i, r, q = (int(v[0]) for v in torch.nonzero(owned, as_tuple=True))
    side = float(torch.exp(targets.size[i, 0, r, q]))
    point = ((q + 0.5) * 4 - 0.5 + float(targets.vector[i, 0, r, q]) * side,
             (r + 0.5) * 4 - 0.5 + float(targets.vector[i, 1, r, q]) * side)
    centres = [(0.5 * (b[0] + b[2]), 0.5 * (b[1] + b[3])) for b, _, _ in canvases[i].hands]
    assert min(np.hypot(point[0] - x, point[1] - y) for x, y in centres) < 1e-3


def test_the_objective_learns_a_fixed_batch():
    torch.manual_seed(0)
    canvases = CompositeMaker(SMALL, seed=4).batch(4)
    config = HandFinderConfig(input_size=96, widths=(8, 8, 16, 16, 16), head_width=16)
    net = HandFinderNet(config)
    images = torch.from_numpy(np.stack([c.image for c in canvases])).permute(0, 3, 1, 2)
    targets = make_targets(canvases, config)
    optimizer = torch.optim.Adam(net.parameters(), 3e-3)
    first = None
    for _ in range(40):
        loss = finder_loss(*net(images), targets)["total"]
        first = float(loss.detach()) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.6 * first


def test_matching_needs_overlap_and_every_keypoint_inside():
    hand = LabelledHand(np.array([[20.0, 20.0], [60.0, 80.0]]))
    box = hand.box
    assert match([Detection(box, 0.9, False)], [hand]).found == [True]
    shifted = tuple(v + 0.4 * (box[2] - box[0]) for v in box)
    result = match([Detection(shifted, 0.9, False)], [hand])
    assert result.found == [False] and result.extra == 1


bundled = pytest.mark.skipif(not DEFAULT_FINDER_PATH.exists(), reason="no bundled hand finder")


@bundled
def test_the_bundled_finder_finds_a_rendered_hand_where_it_was_put_and_nothing_on_a_blank_image():
    from core import HandModel

    model = HandModel.untrained()
    assert model.find_hands(np.full((300, 400, 3), 128, np.uint8)) == []
    maker = CompositeMaker(CompositeConfig(pool_size=16, hand_counts=(0, 1), box_px=(90.0, 120.0), clutter=(0, 2),
                                           distractors=(0, 0), occluder_probability=0.0), seed=11)
    canvas = next(c for c in maker.batch(8) if c.hands)
    image = (canvas.image * 255).astype(np.uint8)
    found = model.find_hands(image)
    assert found, "no hand found on a composite with one large hand"
    assert box_iou(found[0].box, canvas.hands[0][0]) >= 0.5
