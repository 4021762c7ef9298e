"""HandModel.estimate(is_left=...): the user's choice of side (the photo panel's Flip left/right)."""
from __future__ import annotations

import numpy as np

from core import HandModel
from core.models.config import DVAEConfig


def test_estimating_as_the_other_side_mirrors_the_crop_and_keeps_the_requested_side():
    model = HandModel.untrained(DVAEConfig.tiny(), seed=1)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, (8, 40, 40, 3), dtype=np.uint8)
    plain = model.estimate(crops)
    same = model.estimate(crops, is_left=plain.is_left)
    np.testing.assert_array_equal(same.keypoints_2d, plain.keypoints_2d)
    other = model.estimate(crops, is_left=~plain.is_left)
    np.testing.assert_array_equal(other.is_left, ~plain.is_left)
    # the other side is the mirrored crop estimated as the plain side, mirrored back: compare on the
    # crops whose mirror image the model itself reads as that side (no side is forced there)
    mirrored = model.estimate(np.ascontiguousarray(crops[:, :, ::-1]))
    rows = mirrored.is_left == plain.is_left
    assert rows.any()
    np.testing.assert_allclose(other.keypoints_2d[rows, :, 0], 39.0 - mirrored.keypoints_2d[rows, :, 0], atol=1e-3)
    np.testing.assert_allclose(other.keypoints_2d[rows, :, 1], mirrored.keypoints_2d[rows, :, 1], atol=1e-3)
    np.testing.assert_allclose(other.keypoints_3d[rows, :, 0], -mirrored.keypoints_3d[rows, :, 0], atol=1e-3)


class _OneBox:
    """A stand-in hand finder that finds one box (its own side guess: right); keeps what it was given."""

    def __init__(self) -> None:
        self.images: list = []

    def find(self, image):
        from core.finder import Detection

        self.images.append(image)
        return [Detection((10.0, 20.0, 50.0, 60.0), 0.9, False, 0.5)]


def test_found_hands_take_the_side_the_model_reads_flip_consistently_from_their_crop():
    from core.data.crop import crop_square

    model = HandModel.untrained(DVAEConfig.tiny(), seed=3)
    model.finder = _OneBox()
    image = np.random.default_rng(1).integers(0, 255, (80, 90, 3), dtype=np.uint8)
    (found,) = model.find_hands(image)
    p = float(model.read_side(crop_square(image, found.crop, model.image_size)[None], flip=True)[0])
    assert found.is_left == (p > 0.5) and found.side_score == max(p, 1 - p)


def test_the_finder_gets_the_photo_as_checked_once_by_find_hands():
    model = HandModel.untrained(DVAEConfig.tiny(), seed=3)
    model.finder = finder = _OneBox()
    image = np.random.default_rng(1).integers(0, 255, (1, 80, 90, 3), dtype=np.int64)  # one photo, as a batch of 1
    model.find_hands(image)
    (seen,) = finder.images
    assert seen.shape == (80, 90, 3) and seen.dtype == np.uint8  # core.api_checks.check_photo's pixels
    np.testing.assert_array_equal(seen, image[0])
