"""The pose prior fitted to 2D landmarks (core.landmark_fit) and the photo estimate built on it
(core.photo_estimate): a known pose comes back from its projection, missing joints still give a
pose, and without landmarks the estimate is the encoder's and says so."""
from __future__ import annotations

import numpy as np
import pytest

from core.api import HandModel
from core.data.crop import crop_square
from core.finder.boxes import MEDIAPIPE, Detection, keypoint_box
from core.finder.mediapipe_hands import MediaPipeHands, mediapipe_available
from core.hand.joints import NUM_JOINTS
from core.landmark_fit import fit_landmarks
from core.metrics import procrustes_align
from core.photo_estimate import ENCODER, LANDMARKS, estimate_in_box
from tests.data_builders import REAL_HANDS, in_photo, posed
from train.fixtures import fixture_photos


@pytest.fixture(scope="module")
def model() -> HandModel:
    return HandModel.load()


def pa_error_mm(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(procrustes_align(a[None], b[None])[0] - b, axis=-1).mean())


CASES = [("open", (20.0, -25.0, 10.0), False), ("fist", (-10.0, 30.0, 0.0), True), ("point", (35.0, 10.0, -20.0), False),
         ("victory", (0.0, -40.0, 15.0), True)]


@pytest.mark.parametrize("name, euler, is_left", CASES)
def test_a_known_pose_is_recovered_from_its_exact_projection(model, name, euler, is_left):
    truth = posed(name, euler, is_left)
    fit = fit_landmarks(model.model, in_photo(truth), is_left)
    assert np.nanmax(fit.residual_px) < 2.0  # on a ~100 px hand
    assert pa_error_mm(fit.keypoints_3d, truth) < 6.0
    assert fit.keypoints_3d.shape == (NUM_JOINTS, 3) and np.allclose(fit.keypoints_3d[0], 0.0)
    assert fit.confidence.shape == (NUM_JOINTS,) and (fit.confidence > 0).all() and (fit.confidence <= 1).all()


def test_missing_joints_still_give_a_pose_and_count_for_nothing(model):
    truth = posed("open", (20.0, -25.0, 10.0), False)
    landmarks = in_photo(truth)
    weights = np.ones(NUM_JOINTS)
    weights[[4, 8, 12]] = 0.0
    landmarks[[4, 8, 12]] = np.nan  # whatever lies there is not read
    fit = fit_landmarks(model.model, landmarks, False, weights)
    assert np.isfinite(fit.keypoints_3d).all() and np.isfinite(fit.keypoints_2d).all()
    assert (fit.confidence[[4, 8, 12]] == 0).all() and (fit.confidence[weights > 0] > 0).all()
    assert np.nanmax(fit.residual_px) < 2.0
    assert pa_error_mm(fit.keypoints_3d, truth) < 12.0
    with pytest.raises(ValueError, match="at least 4"):
        fit_landmarks(model.model, landmarks, False, np.r_[np.ones(3), np.zeros(NUM_JOINTS - 3)])


def test_a_wrong_side_fits_worse_than_the_right_one(model):
    truth = posed("point", (35.0, 10.0, -20.0), False)
    right, wrong = (fit_landmarks(model.model, in_photo(truth), side) for side in (False, True))
    assert np.nanmean(right.residual_px) < np.nanmean(wrong.residual_px)


class StandInReader:
    """Reads the same landmarks in any box (a stand-in for MediaPipe on the crop)."""

    def __init__(self, landmarks: np.ndarray | None, is_left: bool = False) -> None:
        self.landmarks, self.is_left, self.calls = landmarks, is_left, 0

    def find_in_box(self, image, box):
        self.calls += 1
        if self.landmarks is None:
            return None
        return Detection(keypoint_box(self.landmarks), 1.0, self.is_left, 1.0, MEDIAPIPE, self.landmarks)


def test_without_landmarks_the_estimate_is_the_encoders_and_says_so(model):
    photo = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    box = (100.0, 50.0, 228.0, 178.0)
    reader = StandInReader(None)
    est = estimate_in_box(model, photo, box, is_left=False, reader=reader)
    assert reader.calls == 1 and est.evidence == ENCODER and est.landmarks is None
    assert "encoder alone" in est.describe()
    crop = crop_square(photo, (box[0], box[1], box[2] - box[0]), model.image_size)
    encoder = model.estimate(crop[None], is_left=np.array([False]))
    np.testing.assert_allclose(est.keypoints_3d, encoder.keypoints_3d[0], atol=1e-4)
    np.testing.assert_allclose(est.latent, encoder.latent[0], atol=1e-5)
    assert est.score == pytest.approx(0.5 * float(np.mean(est.confidence)))


def test_landmarks_read_in_the_box_are_fitted_and_the_latent_carries_the_pose(model):
    truth = posed("victory", (0.0, -40.0, 15.0), False)
    landmarks = in_photo(truth, 500.0, (160.0, 120.0))
    photo = np.random.default_rng(1).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    box = keypoint_box(landmarks)
    est = estimate_in_box(model, photo, box, reader=StandInReader(landmarks, is_left=False))
    assert est.evidence == LANDMARKS and "MediaPipe" in est.describe() and not est.is_left
    assert np.linalg.norm(est.keypoints_2d - landmarks, axis=-1).max() < 2.0
    assert pa_error_mm(est.keypoints_3d, truth) < 6.0
    # the latent decodes to the fitted pose (to the label networks' precision)
    decoded = model.decode_pose(est.latent[None].astype(np.float32))[0]
    assert pa_error_mm(decoded, est.keypoints_3d) < 12.0


@pytest.mark.skipif(not mediapipe_available(), reason="mediapipe is not installed (Python >= 3.13)")
def test_mediapipe_detections_keep_their_landmarks_and_a_box_is_read_again():
    if not REAL_HANDS.is_dir():
        pytest.skip(f"real hand fixtures absent at {REAL_HANDS}")
    photo = next(p for p in fixture_photos(REAL_HANDS) if p.dataset == "onehand10k")
    reader = MediaPipeHands()
    found = reader.find(photo.image)
    assert found and all(d.landmarks.shape == (NUM_JOINTS, 2) and d.world_landmarks.shape == (NUM_JOINTS, 3)
                         for d in found)
    hand = found[0]
    x0, y0, x1, y1 = hand.box
    assert ((hand.landmarks >= (x0, y0)) & (hand.landmarks <= (x1, y1))).all()
    again = reader.find_in_box(photo.image, hand.box)
    assert again is not None and np.abs(again.landmarks - hand.landmarks).mean() < 0.1 * hand.side
    # a box beside the hand, on no hand, reads nothing
    h, w = photo.image.shape[:2]
    empty = (0.0, 0.0, 0.2 * w, 0.2 * w) if hand.centre[0] > 0.5 * w else (0.8 * w, 0.0, w, 0.2 * w)
    assert reader.find_in_box(photo.image, empty) is None
