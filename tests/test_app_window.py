"""The window: layout and recent files kept between runs, drag-and-drop, exports, CLI screenshot."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.app_helpers import make_window, settle, write_test_photo


@pytest.mark.slow
def test_layout_and_recent_files_are_restored_in_the_next_run(qtbot, tmp_path):
    first = make_window(qtbot, tmp_path)
    photo = write_test_photo(tmp_path / "hand.png")
    first.open_photo(str(photo))
    settle(qtbot, first)
    first.docks["transfer"].hide()
    first.close()
    second = make_window(qtbot, tmp_path)  # same settings file
    assert second.docks["transfer"].isHidden()
    assert second.recent_files() == [str(photo)]
    assert [a.text() for a in second.recent_menu.actions()] == [str(photo)]
    second.reset_layout()
    assert not second.docks["transfer"].isHidden()
    second.close()


@pytest.mark.slow
def test_dropping_a_photo_on_the_window_opens_it(window, qtbot, tmp_path):
    photo = write_test_photo(tmp_path / "dropped.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    settle(qtbot, window)
    assert window.session.photo.path == str(photo)
    assert window.photo_panel.overlay_points() == 21


def test_export_the_image(window, qtbot, tmp_path):
    path = tmp_path / "hand.png"
    window.session.files.export_image(path)
    saved = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(saved, window.session.image.image)


def test_export_a_latent_walk_as_gif_and_mp4(window, qtbot, tmp_path):
    frames = window.latent_panel.walk_frames()[::5]
    size = window.session.model.output_size
    window.session.files.export_walk(tmp_path / "walk.gif", frames)
    window.session.files.export_walk(tmp_path / "walk.mp4", frames)
    settle(qtbot, window)
    ok, animation = cv2.imreadanimation(str(tmp_path / "walk.gif"))
    assert ok and len(animation.frames) == len(frames)
    video = cv2.VideoCapture(str(tmp_path / "walk.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == len(frames)
    assert int(video.get(cv2.CAP_PROP_FRAME_WIDTH)) == size
    video.release()


def test_export_to_an_unknown_animation_format_says_so(window, qtbot, tmp_path):
    window.session.files.export_walk(tmp_path / "walk.avi", window.latent_panel.walk_frames()[:3])
    settle(qtbot, window)
    assert window.session.messages.messages[-1].level == "error"
    assert ".gif or .mp4" in window.session.messages.messages[-1].text


def test_the_file_menus_actions_ask_for_a_file_then_do_the_work(window, qtbot, tmp_path, monkeypatch):
    actions = {a.text(): a for a in window.menuBar().actions()[0].menu().actions()}
    monkeypatch.setattr(window, "save_file_name", lambda title, suggestion, filters: str(tmp_path / suggestion))
    actions["Export &image…"].trigger()
    actions["&Save pose…"].trigger()
    assert (tmp_path / "hand.png").is_file() and (tmp_path / "pose.json").is_file()
    asked = []
    monkeypatch.setattr(window, "open_file_name", lambda title, folder, filters: asked.append(title) or "")
    actions["&Load pose…"].trigger()  # cancelled: nothing loads
    assert asked == ["Load a pose"] and window.session.messages.messages[-1].text.startswith("Saved the pose")
    monkeypatch.setattr(window, "open_file_name", lambda title, folder, filters: str(tmp_path / "pose.json"))
    actions["&Load pose…"].trigger()
    settle(qtbot, window)
    assert window.session.history.undo_label() == "load pose"
