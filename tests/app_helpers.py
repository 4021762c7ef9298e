"""Helpers of the GUI tests (tests/test_app_*.py); their ``window`` fixture is in tests/conftest.py."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import QSettings  # noqa: E402

from app.main_window import MainWindow  # noqa: E402
from app.model_service import ModelService  # noqa: E402
from app.training import TrainingController, TrainingRequest  # noqa: E402
from core.api import HandModel  # noqa: E402
from core.models.config import DVAEConfig  # noqa: E402
from train.loop.trainer import StepReport  # noqa: E402

REAL_PHOTOS = Path(__file__).resolve().parents[2] / "shared/fixtures/real_hands/unlabelled_photos/gestures"
JOB_TIMEOUT_MS = 20_000


def tiny_model(seed: int = 0) -> ModelService:
    """An untrained tiny model: fast enough for GUI tests."""
    return ModelService.untrained(DVAEConfig.tiny(), seed=seed)


def make_window(qtbot, tmp_path: Path, model: ModelService | None = None) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(model or tiny_model(), settings=settings, show_dialogs=False)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    settle(qtbot, window)
    return window


def settle(qtbot, window: MainWindow) -> None:
    """Wait until every queued model job has run and delivered its result."""
    qtbot.waitUntil(window.runner.is_idle, timeout=JOB_TIMEOUT_MS)
    qtbot.wait(10)
    qtbot.waitUntil(window.runner.is_idle, timeout=JOB_TIMEOUT_MS)


def real_photo() -> Path:
    photos = sorted(REAL_PHOTOS.glob("*/*.jpg"))
    if not photos:
        pytest.skip(f"real hand photos not found under {REAL_PHOTOS}")
    return photos[0]


def write_test_photo(path: Path, size: tuple[int, int] = (300, 200)) -> Path:
    """A small PNG with a skin-coloured blob, written with OpenCV."""
    import cv2

    h, w = size
    image = np.full((h, w, 3), (40, 90, 140), np.uint8)
    cv2.ellipse(image, (w // 2, h // 2), (w // 6, h // 4), 0, 0, 360, (150, 180, 225), -1)
    assert cv2.imwrite(str(path), image)
    return path


def undo_the_two_slider_edits(window, qtbot, original) -> None:
    """After an edit of slider 0 then one of slider 1 (from latent ``original``): the first undo
    takes back slider 1's edit alone, the second restores ``original``."""
    session = window.session
    both = session.latent.value
    session.undo()
    settle(qtbot, window)
    assert session.latent.value[0] == both[0] and session.latent.value[1] == original[1]
    session.undo()
    settle(qtbot, window)
    np.testing.assert_allclose(session.latent.value, original)


class SlowRun:
    """Stands in for ``train.fit.FitRun`` where the test is about the controls, not the training:
    ``n`` steps of ``delay`` seconds each; closing writes a checkpoint; export writes a real
    (untrained, tiny) model file."""

    def __init__(self, run_dir: Path, n: int = 400, delay: float = 0.01) -> None:
        self.run_dir, self.n, self.delay = run_dir, n, delay
        self.checkpoint = run_dir / "checkpoints" / "last.txt"

    def steps(self):
        step = 0
        try:
            for step in range(1, self.n + 1):
                time.sleep(self.delay)
                yield StepReport(step, self.n, {"loss": 1.0 / step}, 100.0, step * self.delay,
                                 (self.n - step) * self.delay, "disentangle", True)
        except GeneratorExit:
            self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
            self.checkpoint.write_text(str(step))
            raise

    def export(self, phase: str = "", phase_step: int = 0) -> Path:
        path = self.run_dir / "model.safetensors"
        HandModel.untrained(DVAEConfig.tiny(), seed=1).save(path)
        return path


def slow_controller(tmp_path: Path, **kwargs) -> tuple[TrainingController, list[SlowRun]]:
    runs: list[SlowRun] = []

    def make(request: TrainingRequest) -> SlowRun:
        runs.append(SlowRun(tmp_path, **kwargs))
        return runs[-1]

    return TrainingController(make), runs
