"""Photo -> pose: open a photo, crop, estimate, 2D overlay; bad files refused with a message."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from tests.app_helpers import real_photo, settle, write_test_photo


@pytest.mark.slow
def test_opening_a_photo_estimates_and_draws_the_2d_skeleton(window, qtbot, tmp_path):
    path = write_test_photo(tmp_path / "hand.png", size=(300, 200))
    assert window.open_photo(str(path))
    settle(qtbot, window)
    photo = window.session.photo
    assert photo.image.shape == (300, 200, 3)
    x, y, side = photo.crop  # default: a centred square
    assert abs((x + side / 2) - 100) < 1 and abs((y + side / 2) - 150) < 1
    assert photo.estimate is not None and photo.estimate.keypoints_2d.shape == (21, 2)
    assert window.photo_panel.overlay_points() == 21
    # the 2D skeleton lies in the crop box, the 3D viewport shows the estimate with its confidence
    kp = photo.estimate.keypoints_2d
    assert np.all(kp >= [x - 1, y - 1]) and np.all(kp <= [x + side + 1, y + side + 1])
    assert window.session.pose.confidence is not None
    np.testing.assert_allclose(window.session.latent.value, window.session.photo_latent, atol=1e-5)
    assert str(path) in window.recent_files()


@pytest.mark.slow
def test_moving_the_crop_box_estimates_again(window, qtbot, tmp_path):
    window.open_photo(str(write_test_photo(tmp_path / "hand.png")))
    settle(qtbot, window)
    first = window.session.photo.estimate.keypoints_2d.copy()
    window.photo_panel.roi.setPos((10, 20))  # as a mouse drag of the box ends
    settle(qtbot, window)
    assert window.session.photo.crop[:2] == (10, 20)
    assert not np.allclose(window.session.photo.estimate.keypoints_2d, first)


@pytest.mark.slow
def test_a_real_photo_gives_an_estimate(window, qtbot):
    assert window.open_photo(str(real_photo()))
    settle(qtbot, window)
    assert window.photo_panel.overlay_points() == 21
    assert not window.session.messages.messages or window.session.messages.messages[-1].level != "error"


@pytest.mark.slow
def test_the_estimate_can_be_edited_and_resynthesised(window, qtbot, tmp_path):
    window.open_photo(str(write_test_photo(tmp_path / "hand.png")))
    settle(qtbot, window)
    image = window.session.image.image.copy()
    window.session.apply_preset("fist")
    settle(qtbot, window)
    assert not np.array_equal(window.session.image.image, image)


def _assert_refused(window, qtbot, path, words: str) -> None:
    before = window.session.photo.image
    assert not window.open_photo(str(path))
    message = window.session.messages.messages[-1]
    assert message.level == "error"
    assert path.name in message.text and words in message.text
    assert window.session.photo.image is before  # the app carries on with what it had
    settle(qtbot, window)


def test_a_text_file_is_refused(window, qtbot, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image")
    _assert_refused(window, qtbot, path, "not a PNG or JPEG")


def test_a_truncated_jpeg_is_refused(window, qtbot, tmp_path):
    import cv2

    ok, data = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8))
    path = tmp_path / "cut.jpg"
    path.write_bytes(data.tobytes()[: len(data) // 2])
    _assert_refused(window, qtbot, path, "truncated")


def test_an_enormous_png_is_refused_before_decoding(window, qtbot, tmp_path):
    # a valid PNG header claiming 20000 x 20000 pixels (400 MP), no pixel data
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + b"\x00\x00\x00\x00IEND\xaeB`\x82")
    _assert_refused(window, qtbot, path, "megapixels")


def test_a_missing_file_is_refused(window, qtbot, tmp_path):
    _assert_refused(window, qtbot, tmp_path / "nowhere.jpg", "Cannot read")


@pytest.mark.slow
def test_a_refused_file_keeps_the_previous_photo(window, qtbot, tmp_path):
    window.open_photo(str(write_test_photo(tmp_path / "hand.png")))
    settle(qtbot, window)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0garbage")
    _assert_refused(window, qtbot, bad, bad.name)
    assert window.session.photo.image is not None and window.photo_panel.overlay_points() == 21
