"""Pose transfer: content of A, pose of B, swap, export as one image."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.app_helpers import settle, write_test_photo


def test_transfer_combines_the_content_of_a_with_the_pose_of_b(window, qtbot):
    session = window.session
    session.transfer.set_kind("A", "sample")
    session.transfer.set_kind("B", "edit")
    settle(qtbot, window)
    images = session.transfer.images
    assert all(images[k] is not None for k in ("A", "B", "result"))
    expected = session.model.transfer(session.transfer.samples["A"], session.latent.value)
    np.testing.assert_array_equal(images["result"], session.model.decode(expected))
    for name in ("pose", "viewpoint"):
        s = session.model.block(name).slice
        np.testing.assert_allclose(expected[s], session.latent.value[s])
    s = session.model.block("content").slice
    np.testing.assert_allclose(expected[s], session.transfer.samples["A"][s])
    assert all(v.has_image() for v in window.transfer_panel.views.values())


def test_swap_exchanges_the_sources(window, qtbot):
    session = window.session
    session.transfer.set_kind("A", "sample")
    session.transfer.set_kind("B", "edit")
    settle(qtbot, window)
    a, b = session.transfer.images["A"].copy(), session.transfer.images["B"].copy()
    session.transfer.swap()
    settle(qtbot, window)
    assert window.transfer_panel.kind_boxes["A"].currentData() == "edit"
    np.testing.assert_array_equal(session.transfer.images["A"], b)
    np.testing.assert_array_equal(session.transfer.images["B"], a)


@pytest.mark.slow
def test_a_photo_can_be_the_content_source(window, qtbot, tmp_path):
    window.open_photo(str(write_test_photo(tmp_path / "hand.png")))
    settle(qtbot, window)
    window.transfer_panel.kind_boxes["A"].setCurrentIndex(window.transfer_panel.kind_boxes["A"].findData("photo"))
    settle(qtbot, window)
    assert window.session.transfer.kinds["A"] == "photo"
    crop = window.session.photo_crop()
    np.testing.assert_array_equal(window.session.transfer.images["A"], crop)


def test_photo_source_without_a_photo_says_so(window, qtbot):
    window.session.transfer.set_kind("B", "photo")
    assert window.session.messages.messages[-1].level == "warning"
    assert "open a photo" in window.session.messages.messages[-1].text


def test_export_writes_the_three_images_side_by_side(window, qtbot, tmp_path):
    window.session.update_transfer()
    settle(qtbot, window)
    path = tmp_path / "transfer.png"
    window.export_transfer(str(path))
    image = cv2.imread(str(path))
    assert image is not None and image.shape[0] == 256 and image.shape[1] == 3 * 256 + 2 * 8
