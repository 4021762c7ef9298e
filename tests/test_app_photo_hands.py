"""Photo -> pose with the hand finder: the app frames the found hand, lets the user pick another,
says when there is none, flips the side and saves the estimate in the photo's pixels."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core.finder import Detection
from tests.app_helpers import settle, tiny_model, window, write_test_photo  # noqa: F401 (fixture)


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


def test_the_confidence_is_said_in_words():
    from app.photo_session import confidence_note

    assert confidence_note(np.full(21, 0.9), 0.95).startswith("Mean joint confidence 0.90")
    assert confidence_note(np.full(21, 0.2), 0.95).startswith("Low confidence: the model is unsure")
    assert "hand finder is unsure" in confidence_note(np.full(21, 0.9), 0.1)


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
