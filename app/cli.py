"""Command line of the desktop app: open the window, or take a screenshot, or benchmark it."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt

from app.display import display_problem, forget_opencv_qt
from core.cli_args import Parser, number_list, size_pair


# A window wider or taller than this is beyond what screens (8K: 7680 x 4320) and X servers' GL
# framebuffers offer; a bigger one was killed for memory after a flood of OpenGL errors.
MAX_WINDOW_SIDE = 8192
MIN_WINDOW_SIDE = 320


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(prog="main.py", description="dVAE Hands: hand image synthesis and 3D pose.")
    parser.add_argument("--model", type=Path,
                        help="a trained model (.safetensors) or 'default' (the bundled one, also without --model)")
    parser.add_argument("--untrained", action="store_true", help="start with an untrained model")
    parser.add_argument("--image", type=Path, help="open this photo and estimate its hand")
    parser.add_argument("--crop", type=number_list("X,Y,SIDE", positive_last=True), metavar="X,Y,SIDE", help="crop box on the --image photo, in its pixels")
    parser.add_argument("--transfer", nargs=2, type=Path, metavar=("CONTENT", "POSE"),
                        help="transfer the pose of photo POSE onto the content of photo CONTENT")
    parser.add_argument("--screenshot", type=Path, metavar="OUT.png", help="save a screenshot of the window and exit")
    parser.add_argument("--benchmark", action="store_true", help="measure slider/drag -> image latency and exit")
    parser.add_argument("--size", type=size_pair(MIN_WINDOW_SIDE, MAX_WINDOW_SIDE), default=(1400, 900), metavar="WxH", help="window size WxH for --screenshot (default 1400x900)")
    return parser.parse_args(argv)


def crop_problem(crop: tuple[float, float, float], width: int, height: int) -> str | None:
    """Why ``--crop X,Y,SIDE`` cannot be used on a ``width`` x ``height`` photo, or None.

    A box that reaches past the photo's edge is moved inside it, as the app moves a dragged box; a
    box with no pixel on the photo would frame whatever the clamping leaves, so it is refused.
    """
    x, y, side = crop
    if x >= width or y >= height or x + side <= 0 or y + side <= 0:
        return (f"--crop {x:g},{y:g},{side:g} lies outside the {width} x {height} photo: "
                f"X and Y are its top-left corner, in the photo's pixels")
    return None


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
    import cv2
    from PySide6.QtWidgets import QApplication

    forget_opencv_qt(os.environ, Path(cv2.__file__).parent)  # before Qt reads them
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
    if args.model is not None:  # "default": the bundled model, as train.evaluate.synthetic --checkpoint default
        return ModelService.load(None if str(args.model) == "default" and not args.model.exists() else args.model), None
    return ModelService.default_or_untrained()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.crop is not None:
        if args.image is None:
            print("error: --crop X,Y,SIDE frames the --image photo: give --image too", file=sys.stderr)
            return 2
        from app.image_io import ImageFileError, load_photo

        try:
            height, width = load_photo(args.image).shape[:2]
        except ImageFileError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        problem = crop_problem(args.crop, width, height)
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
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
