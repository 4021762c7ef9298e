"""After 'Use this model' or loading a checkpoint, the pose-transfer panel keeps showing the open
photo (read again by the new model) instead of going blank and saying that no photo is open."""
from __future__ import annotations

import numpy as np
import pytest

from tests.app_helpers import settle, tiny_model, write_test_photo


@pytest.mark.slow
def test_a_new_model_keeps_the_photo_as_transfer_source(window, qtbot, tmp_path):
    assert window.open_photo(str(write_test_photo(tmp_path / "hand.png")))
    settle(qtbot, window)
    boxes = window.transfer_panel.kind_boxes
    boxes["A"].setCurrentIndex(boxes["A"].findData("photo"))
    settle(qtbot, window)
    assert window.session.transfer.images["result"] is not None
    messages = window.session.messages.messages
    posted = len(messages)
    window.set_model(tiny_model(seed=3))  # what 'Use this model' and File > Load model do
    settle(qtbot, window)
    transfer = window.session.transfer
    assert transfer.kinds["A"] == "photo"
    assert all(transfer.images[k] is not None for k in ("A", "B", "result"))
    np.testing.assert_array_equal(transfer.images["A"], window.session.photo_crop())
    assert not [m.text for m in messages[posted:] if "open a photo" in m.text or m.level == "warning"]
    assert window.transfer_panel.isEnabled()
