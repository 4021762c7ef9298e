"""MediaPipe Hands first, then the project's finder: what HandModel.find_hands uses."""
from __future__ import annotations

import numpy as np
import pytest

from core import HandModel
from core.finder import (MAX_HANDS, CombinedFinder, Detection, HandFinderConfig, MediaPipeHands, default_finder,
                         mediapipe_available)
from core.finder.finder import DEFAULT_FINDER_PATH
from core.models.config import DVAEConfig
from tests.data_builders import REAL_HANDS
from train.fixtures import fixture_photos
from train.hand_finder.match import match

needs_mediapipe = pytest.mark.skipif(not mediapipe_available(), reason="mediapipe is not installed (Python >= 3.13)")


class _Fixed:
    """A stand-in detector that finds the same detections in every image."""

    def __init__(self, *found: Detection) -> None:
        self.found = list(found)

    def find(self, image):
        return list(self.found)


def test_the_packaged_detectors_boxes_come_first_and_the_finders_boxes_on_the_same_hand_are_dropped():
    library = _Fixed(Detection((0.0, 0.0, 40.0, 40.0), 1.0, False, 0.9, "mediapipe"))
    finder = _Fixed(Detection((100.0, 100.0, 140.0, 140.0), 0.99, True),  # another hand
                    Detection((2.0, 2.0, 42.0, 42.0), 0.999, True),  # the same hand, a little off
                    Detection((200.0, 0.0, 230.0, 30.0), 0.6, False))
    found = CombinedFinder(library, finder).find(np.zeros((240, 320, 3), np.uint8))
    assert [d.box for d in found] == [(0.0, 0.0, 40.0, 40.0), (100.0, 100.0, 140.0, 140.0), (200.0, 0.0, 230.0, 30.0)]
    assert [d.source for d in found] == ["mediapipe", "finder", "finder"]
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    assert len(CombinedFinder(library, finder, max_hands=2).find(np.zeros((9, 9, 3), np.uint8))) == 2


def test_every_finder_finds_at_most_the_same_number_of_hands_unless_told():
    import inspect

    assert HandFinderConfig().max_hands == MAX_HANDS
    for finder in (CombinedFinder, MediaPipeHands):
        assert inspect.signature(finder).parameters["max_hands"].default == MAX_HANDS


def test_the_finder_alone_serves_when_the_packaged_detector_finds_nothing():
    finder = _Fixed(Detection((5.0, 5.0, 45.0, 45.0), 0.8, True))
    assert CombinedFinder(_Fixed(), finder).find(np.zeros((60, 60, 3), np.uint8)) == finder.found


def test_find_hands_keeps_the_packaged_detectors_side_and_reads_the_finders():
    model = HandModel.untrained(DVAEConfig.tiny(), seed=3)
    theirs = Detection((10.0, 20.0, 50.0, 60.0), 1.0, True, 0.97, "mediapipe")
    ours = Detection((40.0, 5.0, 80.0, 45.0), 0.9, True, 0.5)
    model.finder = _Fixed(theirs, ours)
    image = np.random.default_rng(1).integers(0, 255, (80, 90, 3), dtype=np.uint8)
    first, second = model.find_hands(image)
    assert first == theirs
    p = float(model.read_side(_crop(model, image, second), flip=True)[0])
    assert second.is_left == (p > 0.5) and second.side_score == max(p, 1 - p)


def _crop(model: HandModel, image: np.ndarray, found: Detection) -> np.ndarray:
    from core.data.crop import crop_square

    return crop_square(image, found.crop, model.image_size)[None]


@needs_mediapipe
@pytest.mark.skipif(not DEFAULT_FINDER_PATH.exists(), reason="no bundled hand finder")
def test_the_default_finder_puts_mediapipe_first():
    finder = default_finder()
    assert isinstance(finder, CombinedFinder)
    assert finder.find(np.full((240, 320, 3), 128, np.uint8)) == []


@needs_mediapipe
def test_mediapipe_frames_the_hand_of_a_real_photo_like_a_training_crop():
    if not REAL_HANDS.is_dir():
        pytest.skip(f"real hand fixtures absent at {REAL_HANDS}")
    from core.finder import MediaPipeHands

    detector = MediaPipeHands()
    photos = [p for p in fixture_photos(REAL_HANDS) if p.dataset == "rhd"]
    assert photos
    results = [match(detector.find(p.image), p.hands) for p in photos]
    # MediaPipe found all three RHD hands, each box at IoU 0.7 or more with the labelled one (2026-12-06)
    assert sum(sum(r.found) for r in results) >= 2
    found = detector.find(photos[0].image.astype(np.float32) / 255.0)  # float images too
    assert found and all(d.source == "mediapipe" and d.score == 1.0 for d in found)


@needs_mediapipe
def test_mediapipe_widens_its_landmarks_box_about_its_centre():
    if not REAL_HANDS.is_dir():
        pytest.skip(f"real hand fixtures absent at {REAL_HANDS}")
    from core.finder import MediaPipeHands
    from core.finder.mediapipe_hands import LANDMARK_BOX_SCALE

    photo = next(p for p in fixture_photos(REAL_HANDS) if p.dataset == "rhd")
    raw, framed = MediaPipeHands(box_scale=1.0).find(photo.image), MediaPipeHands().find(photo.image)
    assert raw and len(raw) == len(framed)  # the widening moves boxes, never what is found
    for a, b in zip(raw, framed):
        assert b.centre == pytest.approx(a.centre)
        assert b.side == pytest.approx(LANDMARK_BOX_SCALE * a.side)
    assert LANDMARK_BOX_SCALE > 1.0  # its landmarks span less than the datasets' keypoints
