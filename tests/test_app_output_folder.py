"""Save dialogs start in one remembered output folder under the user's home, not in the last
photo's folder nor under wherever the app was launched; training runs go there too."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from tests.app_helpers import make_window, write_test_photo


def test_save_dialogs_start_in_one_remembered_output_folder(qtbot, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)  # launched from somewhere else
    window = make_window(qtbot, tmp_path)
    photos = tmp_path / "photos"
    photos.mkdir()
    assert window.open_photo(str(write_test_photo(photos / "hand.png")))
    asked: list[str] = []
    answers = [str(tmp_path / "chosen" / "mine.png"), ""]

    def save_dialog(parent, title, start, filters):
        asked.append(start)
        return answers.pop(0), filters

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_dialog))
    (tmp_path / "chosen").mkdir()
    window.export_transfer()                              # Export: starts under ~/dVAE Hands
    assert Path(asked[0]).parent == home / "dVAE Hands" and Path(asked[0]).parent.is_dir()
    window.export_transfer()                              # and next time where the last file went
    assert Path(asked[1]).parent == tmp_path / "chosen"
    dialog = window.open_training_dialog()                # training runs: the same folder, not ./runs/gui
    assert Path(dialog.run_dir.text()) == tmp_path / "chosen" / "runs"
    answers.append("")
    window.photo_panel.save_button.click()                # Save keypoints: the same folder too
    assert Path(asked[2]).parent == tmp_path / "chosen"
