"""Bad input, one table each for the API, the command lines and the app (screenshot mode): every
case is refused with a message that says what is wrong, where the user looks (a ValueError from
``HandModel``, stderr and a non-zero exit code from a CLI), and nothing wrong goes on."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.display import XCB_LIBRARIES, display_problem
from app.state import PhotoState
from core.api import DEFAULT_MODEL_PATH, HandModel
from core.checkpoint import CheckpointError
from core.models.config import DVAEConfig
from tests.app_helpers import write_test_photo
from tests.trainer_toys import make_toy_trainer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model() -> HandModel:
    return HandModel.untrained(DVAEConfig.tiny())


def crops(n: int = 2, size: int = 32) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def nan_pixels() -> np.ndarray:
    images = crops().astype(np.float32) / 255
    images[0, 3, 4, 1] = np.nan
    return images


# (case, call on the model, words the ValueError must contain)
API_CASES = [
    ("empty batch", lambda m: m.estimate(np.zeros((0, 32, 32, 3), np.uint8)), "empty batch"),
    ("zero-sized image", lambda m: m.estimate(np.zeros((0, 0, 3), np.uint8)), "0 x 0 pixels"),
    ("float image in 0..255", lambda m: m.estimate(crops().astype(np.float32)), "expected RGB in [0, 1]"),
    ("negative float pixels", lambda m: m.encode(crops().astype(np.float32) / 127.5 - 1), "expected RGB in [0, 1]"),
    ("NaN pixels", lambda m: m.estimate(nan_pixels()), "NaN or infinite"),
    ("infinite pixels", lambda m: m.encode(np.full((32, 32, 3), np.inf, np.float32)), "NaN or infinite"),
    ("a path instead of pixels", lambda m: m.estimate("hand.png"), "got a str (a file name?"),
    ("a Path instead of pixels", lambda m: m.encode(Path("hand.png")), "got a PosixPath"),
    ("None", lambda m: m.estimate(None), "got None"),
    ("grey image", lambda m: m.estimate(np.zeros((32, 32), np.uint8)), "expected RGB images (N, H, W, 3)"),
    ("boolean image", lambda m: m.estimate(np.zeros((32, 32, 3), bool)), "of numbers"),
    ("16-bit pixels", lambda m: m.estimate(np.full((32, 32, 3), 4000, np.uint16)), "expected 0..255"),
    ("ragged list", lambda m: m.encode([np.zeros((32, 32, 3)), np.zeros((16, 32, 3))]), "not one array"),
    ("latent of the wrong size", lambda m: m.decode(np.zeros((1, 3), np.float32)), "latents, got shape (1, 3)"),
    ("empty latent batch", lambda m: m.decode(np.zeros((0, m.layout.dim), np.float32)), "empty batch"),
    ("NaN latent", lambda m: m.decode(np.full(m.layout.dim, np.nan, np.float32)), "NaN or infinite"),
    ("empty pose batch", lambda m: m.synthesize(np.zeros((0, 21, 3), np.float32)), "empty batch"),
    ("pose with inf", lambda m: m.encode_pose(np.full((21, 3), np.inf), False), "NaN or infinite"),
    ("pose of 20 joints", lambda m: m.synthesize(np.zeros((20, 3))), "expected (N, 21, 3) mm"),
    ("handedness count", lambda m: m.synthesize(np.zeros((3, 21, 3)), is_left=[True, False]), "one bool or 3 bools"),
    ("content as a file name", lambda m: m.synthesize(np.zeros((21, 3)), content="bg.png"), "content: expected"),
    ("transfer from a path", lambda m: m.transfer(crops(1), "pose.png"), "pose_source: expected"),
    # find_hands checks the photo before any finder is loaded (core.api_checks.check_photo)
    ("two photos to find hands in", lambda m: m.find_hands(crops(2)), "one image (H, W, 3) at a time, got 2"),
    ("a photo's file name to find hands in", lambda m: m.find_hands("photo.jpg"), "image: expected"),
    ("a float photo in 0..255", lambda m: m.find_hands(crops(1)[0].astype(np.float32)), "expected RGB in [0, 1]"),
]


@pytest.mark.parametrize("call,words", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_the_api_refuses_bad_input_saying_what_it_expected(model, call, words) -> None:
    with pytest.raises(ValueError) as info:
        call(model)
    assert words in str(info.value)


def test_good_input_still_passes(model) -> None:
    uint8 = crops()
    floats = uint8.astype(np.float32) / 255
    np.testing.assert_allclose(model.encode(floats), model.encode(uint8), atol=1e-5)
    as_ints = uint8.astype(np.int64)  # other integer types within 0..255 read as uint8
    np.testing.assert_allclose(model.encode(as_ints), model.encode(uint8), atol=1e-6)
    assert model.estimate(np.zeros((1, 1, 3), np.uint8)).keypoints_3d.shape == (1, 21, 3)


def training_state(run: Path) -> Path:
    """``run/checkpoints/embed/last.safetensors``: a trainer state as ``train.fit`` leaves it."""
    folder = run / "checkpoints" / "embed"
    for _ in make_toy_trainer(folder, max_steps=2).steps():
        pass
    return folder / "last.safetensors"


def test_load_accepts_default_and_names_a_training_state(tmp_path) -> None:
    if DEFAULT_MODEL_PATH.exists():
        assert HandModel.load("default").image_size == HandModel.load().image_size
    state = training_state(tmp_path / "run")
    with pytest.raises(CheckpointError, match="this is a training state .*train.fit writes a run's model"):
        HandModel.load(state)
    HandModel.untrained(DVAEConfig.tiny()).save(tmp_path / "run" / "model.safetensors")
    with pytest.raises(CheckpointError, match=f"its model is at {tmp_path / 'run' / 'model.safetensors'}"):
        HandModel.load(state)
    with pytest.raises(CheckpointError, match="checkpoint file missing"):
        HandModel.load(tmp_path / "nothing.safetensors")


# ---- files a user may pass on a command line --------------------------------------------------
def text_file(folder: Path) -> Path:
    path = folder / "text.png"
    path.write_text("not an image\n")
    return path


def truncated_png(folder: Path) -> Path:
    data = (write_test_photo(folder / "full.png")).read_bytes()
    path = folder / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    return path


def huge_png(folder: Path) -> Path:
    """A PNG header that claims 40,000 x 40,000 pixels."""
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", 40_000, 40_000, 8, 2, 0, 0, 0)
    path = folder / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + b"\0" * 4 + b"\0\0\0\0IEND\xaeB`\x82")
    return path


def one_pixel_png(folder: Path) -> Path:
    path = folder / "pixel.png"
    assert cv2.imwrite(str(path), np.full((1, 1, 3), 128, np.uint8))
    return path


def good_photo(folder: Path) -> Path:
    return write_test_photo(folder / "hand.png")


BAD_FILES = {
    "not an image": (text_file, "text.png is not a usable image"),
    "truncated": (truncated_png, "truncated.png is truncated"),
    "missing": (lambda folder: folder / "missing.png", "Cannot read"),
    "huge": (huge_png, "40000 x 40000 pixels, more than the 100 megapixels"),
    "one pixel": (one_pixel_png, "1 x 1 pixels, too small for a hand"),
}


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    base = {**os.environ, "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "xcb")}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env or base, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_screenshot_mode_exits_non_zero_with_the_refusal_on_stderr(case, tmp_path) -> None:
    make, words = BAD_FILES[case]
    out = tmp_path / "shot.png"
    result = run_cli("main.py", "--untrained", "--screenshot", str(out), "--image", str(make(tmp_path)))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "error: " in result.stderr and words in result.stderr
    assert not out.exists()  # no screenshot of a window that did not do what was asked


@pytest.mark.slow
def test_transfer_reports_both_refused_photos_and_does_not_fall_back(tmp_path) -> None:
    out = tmp_path / "shot.png"
    result = run_cli("main.py", "--untrained", "--screenshot", str(out),
                     "--transfer", str(text_file(tmp_path)), str(one_pixel_png(tmp_path)))
    assert result.returncode == 2
    assert "text.png is not a usable image" in result.stderr and "pixel.png is 1 x 1 pixels" in result.stderr
    assert not out.exists()
    result = run_cli("main.py", "--untrained", "--benchmark", "--transfer", str(good_photo(tmp_path)),
                     str(truncated_png(tmp_path)))
    assert result.returncode == 2 and "truncated.png is truncated" in result.stderr
    assert "slider" not in result.stdout  # the benchmark did not run


@pytest.mark.slow
def test_model_files_that_are_not_models_are_named_by_every_cli(tmp_path) -> None:
    state = training_state(tmp_path / "run")
    for args in (["main.py", "--model", str(state), "--screenshot", str(tmp_path / "s.png")],
                 ["-m", "train.evaluate.synthetic", "--checkpoint", str(state), "--dataset", "synthetic", "--count", "4"]):
        result = run_cli(*args)
        assert result.returncode == 2, result.stderr[-2000:]
        assert "this is a training state (for train.fit --resume), not a model" in result.stderr


def test_without_a_display_main_py_says_what_to_install_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = run_cli("main.py", env=env, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DISPLAY is not set" in lines[0] and "xvfb" in lines[0], result.stderr


def test_missing_xcb_libraries_are_named_with_their_packages() -> None:
    environ = {"DISPLAY": ":0"}
    problem = display_problem(environ, "linux", loads=lambda soname: soname != "libxcb-cursor.so.0", is_root=False)
    assert problem is not None and problem.endswith("sudo apt-get install -y libxcb-cursor0")
    as_root = display_problem(environ, "linux", loads=lambda soname: soname != "libxcb-cursor.so.0", is_root=True)
    assert as_root.endswith("with apt-get install -y libxcb-cursor0")  # root has no sudo on a fresh Debian
    assert display_problem(environ, "linux", loads=lambda soname: True) is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None  # the user chose no screen
    assert display_problem({}, "darwin") is None
    assert set(XCB_LIBRARIES.values()) <= set((ROOT / "README.md").read_text().split())  # the README's list


@pytest.mark.parametrize("crop", [(-50, -50, 40), (290, 190, 40), (10, 10, 5000), (0, 0, 1)])
def test_the_crop_box_stays_inside_the_photo(crop) -> None:
    photo = PhotoState()
    photo.set_image(np.zeros((200, 300, 3), np.uint8), "hand.png")  # (H, W) = (200, 300)
    photo.set_crop(crop)
    x, y, side = photo.crop
    assert 0 <= x and 0 <= y and x + side <= 300 and y + side <= 200 and side >= 8
