"""The app's plain-Python layer (no window): photo checks, crops, undo history, walks."""
from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from app.history import History, Snapshot
from app.image_io import ImageFileError, image_format_and_size, load_photo
from app.model_service import LatentBlockSpec
from app.state import LATENT_RANGE, LatentState
from app.walk import dimension_walk, ping_pong
from core.data.crop import crop_square


@pytest.mark.parametrize("ext,fmt", [(".png", "png"), (".jpg", "jpeg")])
def test_header_size_matches_the_image(ext, fmt):
    ok, data = cv2.imencode(ext, np.zeros((37, 53, 3), np.uint8))
    assert ok
    assert image_format_and_size(data.tobytes()) == (fmt, 53, 37)


def test_an_enormous_jpeg_is_refused_from_its_header(tmp_path):
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 30000, 30000, 1) + b"\x01\x11\x00"
    path = tmp_path / "huge.jpg"
    path.write_bytes(b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 4) + b"ab" + sof + b"\xff\xd9")
    with pytest.raises(ImageFileError, match="30000 x 30000"):
        load_photo(path)


def test_a_photo_loads_as_rgb(tmp_path):
    bgr = np.zeros((20, 40, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    rgb = load_photo(tmp_path / "red.png")
    assert rgb.shape == (20, 40, 3) and np.all(rgb[..., 0] == 255) and np.all(rgb[..., 2] == 0)


def test_crop_square_resizes_and_pads_outside_with_black():
    image = np.full((100, 100, 3), 200, np.uint8)
    crop = crop_square(image, (50, 50, 100), 32)  # the lower-right quarter is inside the photo
    assert crop.shape == (32, 32, 3)
    assert np.all(crop[:14, :14] == 200) and np.all(crop[18:, 18:] == 0)


def _snap(value: float, label: str = "edit") -> Snapshot:
    return Snapshot(np.full(3, value), None, None, label)


def test_history_undo_redo_and_a_new_edit_drops_the_redo_branch():
    history = History()
    for value in range(3):
        history.record(_snap(value, f"edit {value}"))
    assert history.undo_label() == "edit 2"
    assert history.undo().latent[0] == 1 and history.undo().latent[0] == 0
    assert history.undo() is None and not history.can_undo()
    assert history.redo().latent[0] == 1
    history.record(_snap(9))
    assert not history.can_redo()
    assert history.undo().latent[0] == 1


def test_a_dimension_walk_loops_through_the_current_value():
    latent = np.array([0.5, -1.0, 2.0])
    frames = dimension_walk(latent, 1, steps=40, amplitude=3.0)
    assert frames.shape == (40, 3)
    assert np.all(frames[:, [0, 2]] == latent[[0, 2]])
    assert frames[0, 1] == -1.0 and frames[:, 1].max() == pytest.approx(3.0, abs=0.2)
    assert frames[:, 1].min() == pytest.approx(-3.0, abs=0.2)
    assert len(ping_pong(frames)) == 78


def test_the_latent_keeps_encoded_values_beyond_the_sliders_range():
    # an encoded pose or photo may lie outside +-LATENT_RANGE; clipping it would show another pose
    state = LatentState((LatentBlockSpec("pose", 0, 2), LatentBlockSpec("free", 2, 1)))
    z = np.array([LATENT_RANGE + 1.5, -LATENT_RANGE - 2.0, 0.5])
    state.set(z, "pose-edit")
    np.testing.assert_array_equal(state.value, z)
