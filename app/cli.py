"""Command line of the desktop app: open the window, or take a screenshot, or benchmark it."""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt

from app.display import display_problem


def _crop(text: str) -> tuple[float, float, float]:
    try:
        x, y, side = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,SIDE in pixels, got {text!r}") from None
    if not all(math.isfinite(v) for v in (x, y, side)) or side <= 0:
        raise argparse.ArgumentTypeError(f"expected finite X,Y and a positive SIDE in pixels, got {text!r}")
    return x, y, side


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="main.py", description="dVAE Hands: hand image synthesis and 3D pose.")
    parser.add_argument("--model", type=Path,
                        help="a trained model (.safetensors) or 'default' (the bundled one, also without --model)")
    parser.add_argument("--untrained", action="store_true", help="start with an untrained model")
    parser.add_argument("--image", type=Path, help="open this photo and estimate its hand")
    parser.add_argument("--crop", type=_crop, metavar="X,Y,SIDE", help="crop box on the --image photo, in its pixels")
    parser.add_argument("--transfer", nargs=2, type=Path, metavar=("CONTENT", "POSE"),
                        help="transfer the pose of photo POSE onto the content of photo CONTENT")
    parser.add_argument("--screenshot", type=Path, metavar="OUT.png", help="save a screenshot of the window and exit")
    parser.add_argument("--benchmark", action="store_true", help="measure slider/drag -> image latency and exit")
    parser.add_argument("--size", type=_size, default=(1400, 900), metavar="WxH", help="window size WxH for --screenshot (default 1400x900)")
    return parser.parse_args(argv)


def describe_hands(photo) -> str:
    """One line on what the hand finder found in the opened photo (``app.state.PhotoState``)."""
    name = Path(photo.path).name if photo.path else "the photo"
    if photo.hands is None:
        return f"{name}: no hand finder is bundled; the crop box is where it was put"
    if not photo.hands:
        return f"{name}: no hand found; place the crop box with --crop X,Y,SIDE"
    boxes = "; ".join(f"{d.hand} ({d.evidence}) at ({d.box[0]:.0f}, {d.box[1]:.0f}, {d.box[2]:.0f}, {d.box[3]:.0f})"
                      for d in photo.hands)
    framed = "the crop given by --crop" if photo.crop_source == "user" else f"hand {(photo.hand_index or 0) + 1}"
    return f"{name}: {len(photo.hands)} hand(s) found: {boxes}; framed {framed}"


def make_application(argv: list[str]):
    """The QApplication, with shared GL contexts (two GL views draw nothing without it)."""
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("dVAE Hands")
    app.setOrganizationName("dvae-hands")
    return app


def load_model(args: argparse.Namespace):
    """(ModelService, note or None) as the arguments ask."""
    from app.model_service import ModelService

    if args.untrained:
        return ModelService.untrained(), "Started with an untrained model (--untrained)."
    if args.model is not None:  # "default": the bundled model, as train.evaluate --checkpoint default
        return ModelService.load(None if str(args.model) == "default" and not args.model.exists() else args.model), None
    return ModelService.default_or_untrained()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = display_problem(os.environ)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    app = make_application(sys.argv[:1])
    from PySide6.QtCore import QSettings

    from app.main_window import MainWindow

    from app.model_service import MODEL_LOAD_ERRORS

    try:
        model, note = load_model(args)
    except MODEL_LOAD_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    scripted = args.screenshot is not None or args.benchmark
    # scripted runs must not depend on (or change) the user's saved layout
    settings = QSettings(str(Path(QCoreApplication.applicationDirPath()) / "unused.ini"), QSettings.Format.IniFormat) \
        if scripted else None
    if scripted:
        settings.clear()
    window = MainWindow(model, settings=settings, note=note, show_dialogs=not scripted)
    refusals: list[str] = []  # scripted runs: errors go to stderr and the exit code, not a status bar
    window.session.messages.posted.connect(lambda m: refusals.append(m.text) if m.level == "error" else None)
    if scripted:
        window.resize(*args.size)
    window.show()
    if args.image is not None and window.open_photo(str(args.image)) and args.crop:
        window.session.photo.set_crop(args.crop)
    if args.transfer is not None:
        from app.scripted import run_transfer

        run_transfer(window, *args.transfer)
    window.runner.wait_idle()
    app.processEvents()
    if args.image is not None and window.session.photo.image is not None:
        print(describe_hands(window.session.photo), file=sys.stderr)
    if scripted and refusals:
        for text in refusals:
            print(f"error: {text}", file=sys.stderr)
        window.close()
        return 2
    print(f"window ready in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    if args.benchmark:
        from app.benchmark import run_benchmark

        run_benchmark(window)
        window.close()
        return 0
    if args.screenshot is not None:
        from app.scripted import save_screenshot

        save_screenshot(window, args.screenshot)
        window.close()
        return 0
    return app.exec()
