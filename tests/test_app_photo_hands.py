"""Photo -> pose with the hand finder: the app frames the found hand, lets the user pick another,
says when there is none, flips the side and saves the estimate in the photo's pixels."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core.finder import Detection
from core.finder.boxes import keypoint_box
from core.photo_estimate import ENCODER, LANDMARKS, PhotoHandEstimate
from tests.data_builders import in_photo, posed
from tests.app_helpers import settle, tiny_model, write_test_photo


class FakeFinder:
    """Stands in for the trained finder: answers the boxes it was given."""

    def __init__(self, hands: list[Detection]) -> None:
        self.hands = hands
        self.images: list[np.ndarray] = []

    def find(self, image: np.ndarray) -> list[Detection]:
        self.images.append(image)
        return list(self.hands)


def with_finder(window, hands: list[Detection]) -> FakeFinder:
    finder = FakeFinder(hands)
    window.session.model.model.finder = finder
    return finder


RIGHT = Detection((20.0, 40.0, 120.0, 140.0), 0.9, False)
LEFT = Detection((90.0, 150.0, 170.0, 230.0), 0.6, True)


def test_opening_a_photo_frames_the_found_hand(window, qtbot, tmp_path):
    finder = with_finder(window, [RIGHT, LEFT])
    assert window.open_photo(str(write_test_photo(tmp_path / "hand.png", size=(300, 200))))
    settle(qtbot, window)
    photo = window.session.photo
    assert len(finder.images) == 1 and finder.images[0].shape == (300, 200, 3)
    assert photo.crop == pytest.approx(RIGHT.crop) and photo.crop_source == "finder"
    assert photo.estimate is not None
    kp = photo.estimate.keypoints_2d  # in the photo's pixels, inside the framed box
    assert np.all(kp >= [19, 39]) and np.all(kp <= [121, 141])
    panel = window.photo_panel
    # the list says the side the model reads for the box, and the framed hand is estimated as it
    side = "left" if photo.estimate.is_left else "right"
    assert panel.hand_list.count() == 2 and f"{side} hand" in panel.hand_list.itemText(0)
    assert photo.hands[0].is_left == photo.estimate.is_left
    assert "2 hands found" in panel.info.text()
    assert "Found 2 hands" in window.session.messages.messages[-1].text


def test_the_user_picks_another_found_hand(window, qtbot, tmp_path):
    with_finder(window, [RIGHT, LEFT])
    window.open_photo(str(write_test_photo(tmp_path / "hand.png", size=(300, 200))))
    settle(qtbot, window)
    window.photo_panel.hand_list.activated.emit(1)  # as a click on the second entry
    settle(qtbot, window)
    photo = window.session.photo
    assert photo.hand_index == 1 and photo.crop == pytest.approx(LEFT.crop)
    kp = photo.estimate.keypoints_2d
    assert np.all(kp >= [89, 149]) and np.all(kp <= [171, 231])


def test_no_hand_found_is_said_and_the_box_can_still_be_placed(window, qtbot, tmp_path):
    with_finder(window, [])
    window.open_photo(str(write_test_photo(tmp_path / "hand.png", size=(300, 200))))
    settle(qtbot, window)
    message = window.session.messages.messages[-1]
    assert message.level == "warning" and "No hand found" in message.text
    assert "No hand found" in window.photo_panel.info.text()
    window.photo_panel.roi.setPos((10, 20))  # the user places the box
    settle(qtbot, window)
    assert window.session.photo.crop[:2] == (10, 20) and window.session.photo.estimate is not None


def test_a_crop_given_before_the_finder_answers_is_kept(window, qtbot, tmp_path):
    with_finder(window, [RIGHT])
    window.open_photo(str(write_test_photo(tmp_path / "hand.png", size=(300, 200))))
    window.session.photo.set_crop((5, 6, 50))  # as main.py --crop does right after opening
    settle(qtbot, window)
    assert window.session.photo.crop == (5, 6, 50) and [h.box for h in window.session.photo.hands] == [RIGHT.box]


def test_flipping_the_side_estimates_the_other_hand_on_the_same_spot(window, qtbot, tmp_path):
    with_finder(window, [RIGHT])
    window.open_photo(str(write_test_photo(tmp_path / "hand.png", size=(300, 200))))
    settle(qtbot, window)
    before = window.session.photo.estimate
    window.photo_panel.flip_button.click()
    settle(qtbot, window)
    after = window.session.photo.estimate
    assert after.is_left != before.is_left and after.side_chosen and not before.side_chosen
    assert window.session.pose.hand.is_left == after.is_left
    x, y, side = window.session.photo.crop
    assert np.all(after.keypoints_2d >= [x - 1, y - 1]) and np.all(after.keypoints_2d <= [x + side + 1, y + side + 1])
    assert ("left" if after.is_left else "right") in window.photo_panel.confidence.text()
    assert "your choice" in window.photo_panel.confidence.text()


def estimate_of(evidence: str, confidence: float) -> PhotoHandEstimate:
    zeros = np.zeros((21, 3))
    return PhotoHandEstimate(zeros, zeros[:, :2], np.full(21, confidence), np.zeros(21), None, None, False,
                             np.zeros(8), evidence)


def test_the_confidence_is_said_in_words():
    from app.photo_session import confidence_note

    fitted = confidence_note(estimate_of(LANDMARKS, 0.6), 0.95)
    assert fitted.startswith("Score 0.80 (mean joint confidence 0.60") and "MediaPipe's 21 landmarks" in fitted
    # MediaPipe reads no hand in the box: said first, however sure the encoder is of its pose
    unseen = confidence_note(estimate_of(ENCODER, 0.95), 0.95)
    assert unseen.startswith("Low confidence: MediaPipe sees no hand in this box") and "encoder alone" in unseen
    # without MediaPipe installed, the encoder's own confidence decides
    alone = confidence_note(estimate_of(ENCODER, 0.9), None, reader=False)
    assert alone.startswith("Score 0.45") and "MediaPipe is not installed" in alone
    assert confidence_note(estimate_of(ENCODER, 0.2), None, reader=False).startswith("Low confidence: the estimate")
    assert "hand finder is unsure" in confidence_note(estimate_of(LANDMARKS, 0.9), 0.1)


def test_the_estimate_is_saved_in_the_photos_pixels(window, qtbot, tmp_path):
    with_finder(window, [RIGHT])
    window.open_photo(str(write_test_photo(tmp_path / "hand.png", size=(300, 200))))
    settle(qtbot, window)
    paths = window.session.photos.save_estimate(tmp_path / "out" / "hand")
    assert [p.name for p in paths] == ["hand_pose.json", "hand_openpose.json"]
    pose = json.loads(paths[0].read_text())
    estimate = window.session.photo.estimate
    assert pose["photo"]["width"] == 200 and pose["photo"]["height"] == 300
    assert pose["photo"]["crop_box"] == pytest.approx([20, 40, 120, 140])
    np.testing.assert_allclose(pose["photo"]["keypoints_2d"], estimate.keypoints_2d, atol=1e-4)
    openpose = json.loads(paths[1].read_text())
    assert (openpose["canvas_width"], openpose["canvas_height"]) == (200, 300)
    key = "hand_left_keypoints_2d" if estimate.is_left else "hand_right_keypoints_2d"
    points = np.asarray(openpose["people"][0][key]).reshape(21, 3)
    assert np.abs(points[:, :2]).sum() > 0
    from core.export.openpose import read_openpose_json

    back = read_openpose_json(paths[1])
    assert back.canvas_wh == (200, 300)


def test_without_a_finder_the_panel_says_so(window, qtbot, tmp_path):
    class Missing:
        def find(self, image):
            raise FileNotFoundError("no bundled hand finder")  # what HandModel.finder raises then

    window.session.model.model.finder = Missing()
    window.open_photo(str(write_test_photo(tmp_path / "hand.png", size=(300, 200))))
    settle(qtbot, window)
    assert "No hand finder is bundled" in window.photo_panel.info.text()
    assert window.session.photo.estimate is not None  # the default box is still estimated


def test_a_box_the_user_placed_is_read_flip_consistently(monkeypatch):
    # No found hand, no side chosen: the side is the flip-consistent reading, which is right more
    # often on real photos than the model's reading of the crop alone.
    service = tiny_model()
    asked = []

    def read_side(images, flip=False):
        asked.append(flip)
        return np.array([0.9 if flip else 0.1])

    monkeypatch.setattr(service.model, "read_side", read_side)
    crop = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert service.estimate(crop).is_left is True and asked == [True]
    assert service.estimate(crop, is_left=False).is_left is False and asked == [True]


def test_a_hand_mediapipe_found_is_estimated_as_the_side_it_found_and_says_so(window, qtbot, tmp_path):
    found = Detection((30.0, 50.0, 130.0, 150.0), 1.0, True, 0.95, "mediapipe")
    with_finder(window, [found, RIGHT])
    window.open_photo(str(write_test_photo(tmp_path / "hand.png", size=(300, 200))))
    settle(qtbot, window)
    photo, panel = window.session.photo, window.photo_panel
    assert photo.hands[0] == found and photo.estimate.is_left
    assert "left hand (found by MediaPipe)" in panel.hand_list.itemText(0)
    assert "left hand (found by MediaPipe)" in panel.confidence.text()
    assert "found by MediaPipe" in window.session.messages.messages[-1].text


class StandInReader:
    """Stands in for MediaPipe reading a box: the landmarks it was given, or none."""

    def __init__(self, landmarks: np.ndarray | None) -> None:
        self.landmarks, self.boxes = landmarks, []

    def find_in_box(self, image, box):
        self.boxes.append(tuple(box))
        if self.landmarks is None:
            return None
        return Detection(keypoint_box(self.landmarks), 1.0, False, 1.0, "mediapipe", self.landmarks)


def hand_landmarks(centre=(100.0, 100.0), size=60.0) -> np.ndarray:
    """An open right hand's 21 landmarks (photo px), fingers up."""
    kp = in_photo(posed("open", (10.0, -20.0, 0.0), False), 1.0, (0.0, 0.0))
    kp = (kp - kp.mean(0)) / np.ptp(kp, axis=0).max() * size
    return kp + np.array(centre)


def test_only_mediapipes_boxes_are_listed_when_it_finds_hands(window, qtbot, tmp_path):
    found = Detection((30.0, 50.0, 130.0, 150.0), 1.0, True, 0.95, "mediapipe", hand_landmarks((80.0, 100.0)))
    with_finder(window, [found, RIGHT, LEFT])  # the project's finder's two boxes follow MediaPipe's
    window.session.model.box_reader = StandInReader(None)
    window.open_photo(str(write_test_photo(tmp_path / "hand.png", size=(300, 200))))
    settle(qtbot, window)
    photo, panel = window.session.photo, window.photo_panel
    assert photo.hands == [found] and panel.hand_list.count() == 1
    # the framed detection's own landmarks are fitted; its box is not read again
    assert found.box not in window.session.model.box_reader.boxes
    assert "MediaPipe's 21 landmarks" in panel.confidence.text() and not photo.estimate.low_confidence
    assert np.abs(photo.estimate.keypoints_2d - found.landmarks).max() < 0.2 * found.side


def test_the_finders_boxes_are_listed_as_less_sure_when_mediapipe_finds_none(window, qtbot, tmp_path):
    with_finder(window, [RIGHT, LEFT])
    window.session.model.box_reader = StandInReader(None)
    window.open_photo(str(write_test_photo(tmp_path / "hand.png", size=(300, 200))))
    settle(qtbot, window)
    panel = window.photo_panel
    assert panel.hand_list.count() == 2 and "less sure" in panel.hand_list.itemText(0)
    assert "less sure" in window.session.messages.messages[-1].text
    # MediaPipe read the framed box and saw no hand: said in red, whatever the encoder's spread
    assert window.session.model.box_reader.boxes[-1] == pytest.approx(RIGHT.box)
    assert photo_low(window) and "MediaPipe sees no hand in this box" in panel.confidence.text()
    assert "color:#d03030" in panel.confidence.text()


def photo_low(window) -> bool:
    return window.session.photo.estimate is not None and window.session.photo.estimate.low_confidence


@pytest.mark.slow
def test_a_box_the_user_places_is_read_by_mediapipe_and_fitted(window, qtbot, tmp_path):
    with_finder(window, [])
    landmarks = hand_landmarks((100.0, 120.0), 50.0)
    window.session.model.box_reader = StandInReader(landmarks)
    window.open_photo(str(write_test_photo(tmp_path / "hand.png", size=(300, 200))))
    settle(qtbot, window)
    window.session.photo.set_crop((60.0, 80.0, 80.0))  # as a drag of the yellow box
    settle(qtbot, window)
    estimate = window.session.photo.estimate
    assert window.session.model.box_reader.boxes[-1] == pytest.approx((60.0, 80.0, 140.0, 160.0))
    assert "read in the box" in estimate.evidence and not estimate.low_confidence
    assert np.abs(estimate.keypoints_2d - landmarks).max() < 10.0
    panel = window.photo_panel
    # the skeleton is drawn to the box's scale, and the framed box is shown enlarged
    assert panel.bones.opts["pen"].widthF() < 0.05 * 80.0 and not panel.bones.opts["pen"].isCosmetic()
    assert estimate.enlarged.shape == (256, 256, 3) and panel.zoom_image.image.shape == (256, 256, 3)
    np.testing.assert_allclose(estimate.enlarged_keypoints, (landmarks - [60.0, 80.0] + 0.5) * 256 / 80 - 0.5,
                               atol=0.2 * 256)
