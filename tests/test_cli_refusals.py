"""Every command line refuses nonsense numbers with one line on stderr and exit status 2, before any
work: no folder made, no file written. One table over every CLI's numeric flags (zero, negative,
absurdly large), run in-process; a few rows again as real processes (no traceback, nothing written);
and negative numbers where they mean something (``--crop -50,-50,100``)."""
from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from app import cli as app_cli
from tests.app_helpers import write_test_photo
from train import bundle, data, fit, pose_export
from train.evaluate import decoder_ablation, finger_follow, judge, mediapipe_calibration
from train.evaluate import real as real_eval
from train.evaluate import synthetic as evaluate
from train.hand_finder import eval as hand_finder_eval
from train.hand_finder import training as hand_finder
from train.experiments import run as experiments

ROOT = Path(__file__).resolve().parents[1]
HUGE = "100000000000"

# (command, its main, arguments it needs; OUT stands for a path under the test's folder)
COMMANDS: dict[str, tuple[Callable, list[str]]] = {
    "main.py": (app_cli.main, ["--screenshot", "OUT/shot.png"]),
    "train.data generate": (data.main, ["generate", "--out", "OUT/synth", "--count", "8"]),
    "train.data preview": (data.main, ["preview", "synthetic", "--out", "OUT/sheet.png"]),
    "train.evaluate.synthetic": (evaluate.main, ["--checkpoint", "default", "--dataset", "synthetic",
                                       "--predictions", "OUT/predictions.json"]),
    "train.hand_finder.training": (hand_finder.main, ["--out", "OUT/finder"]),
    "train.hand_finder.eval": (hand_finder_eval.main, ["--sheet", "OUT/sheet.png"]),
    "train.evaluate.mediapipe_calibration": (mediapipe_calibration.main, []),
    "train.pose_export export": (pose_export.main, ["export", "--pose", "OUT/pose.json", "--out", "OUT/exported"]),
    "train.pose_export import": (pose_export.main, ["import", "--openpose", "OUT/hand.json", "--out", "OUT/pose.json"]),
    "train.experiments": (experiments.main, ["--out", "OUT/report", "--work", "OUT/work"]),
    "train.evaluate.judge": (judge.main, ["--out", "OUT/judge.safetensors"]),
    "train.evaluate.decoder_ablation": (decoder_ablation.main, ["--out", "OUT/ablation", "--docs", "OUT/docs"]),
}

ZERO_NEGATIVE_HUGE = ("0", "-3", HUGE)
NEGATIVE_HUGE = ("-3", HUGE)  # flags where 0 means something (no threads of our own, none, all from the start)
SEED = ("-1", HUGE)

# (command, flag, bad values)
FLAGS = [
    ("main.py", "--size", ("0x0", "-5x900", "100000x100000", "1400")),
    ("train.data generate", "--count", ZERO_NEGATIVE_HUGE),
    ("train.data generate", "--size", ZERO_NEGATIVE_HUGE + ("8", "100000")),
    ("train.data generate", "--chunk", ZERO_NEGATIVE_HUGE),
    ("train.data generate", "--batch", ZERO_NEGATIVE_HUGE),
    ("train.data generate", "--seed", SEED),
    ("train.data preview", "--count", ZERO_NEGATIVE_HUGE),
    ("train.data preview", "--size", ZERO_NEGATIVE_HUGE),
    ("train.data preview", "--columns", ZERO_NEGATIVE_HUGE),
    ("train.data preview", "--zoom", ZERO_NEGATIVE_HUGE),
    ("train.data preview", "--seed", SEED),
    ("train.evaluate.synthetic", "--count", ZERO_NEGATIVE_HUGE),
    ("train.evaluate.synthetic", "--seed", SEED),
    ("train.evaluate.synthetic", "--limit", ZERO_NEGATIVE_HUGE),
    ("train.evaluate.synthetic", "--batch-size", ZERO_NEGATIVE_HUGE),
    ("train.evaluate.synthetic", "--workers", NEGATIVE_HUGE),
    ("train.hand_finder.training", "--minutes", ZERO_NEGATIVE_HUGE + ("nan", "inf")),
    ("train.hand_finder.training", "--batch", ZERO_NEGATIVE_HUGE),
    ("train.hand_finder.training", "--lr", NEGATIVE_HUGE + ("nan",)),  # 0: weights kept (a check)
    ("train.hand_finder.training", "--threads", NEGATIVE_HUGE),
    ("train.hand_finder.training", "--seed", SEED),
    ("train.hand_finder.training", "--checkpoint-minutes", ZERO_NEGATIVE_HUGE),
    ("train.hand_finder.training", "--validation", ZERO_NEGATIVE_HUGE),
    ("train.hand_finder.training", "--ramp", NEGATIVE_HUGE),
    ("train.hand_finder.training", "--mine", NEGATIVE_HUGE),
    ("train.hand_finder.training", "--mine-keep", NEGATIVE_HUGE),
    ("train.hand_finder.training", "--pool", ZERO_NEGATIVE_HUGE),
    ("train.hand_finder.eval", "--renders", NEGATIVE_HUGE),
    ("train.evaluate.mediapipe_calibration", "--composites", ZERO_NEGATIVE_HUGE),
    ("train.evaluate.mediapipe_calibration", "--seed", SEED),
    ("train.pose_export export", "--size", ZERO_NEGATIVE_HUGE),
    ("train.pose_export export", "--distance", ZERO_NEGATIVE_HUGE),
    ("train.pose_export export", "--content-seed", SEED),
    ("train.pose_export import", "--distance", ZERO_NEGATIVE_HUGE),
    ("train.experiments", "--budget-steps", ZERO_NEGATIVE_HUGE),
    ("train.experiments", "--batch-size", ZERO_NEGATIVE_HUGE),
    ("train.experiments", "--test-count", ZERO_NEGATIVE_HUGE),
    ("train.experiments", "--pool-size", ZERO_NEGATIVE_HUGE),
    ("train.experiments", "--seed", SEED),
    ("train.experiments", "--threads", ZERO_NEGATIVE_HUGE),
    ("train.evaluate.judge", "--size", ZERO_NEGATIVE_HUGE),
    ("train.evaluate.judge", "--steps", ZERO_NEGATIVE_HUGE),
    ("train.evaluate.decoder_ablation", "--minutes", ZERO_NEGATIVE_HUGE),
    ("train.evaluate.decoder_ablation", "--size", NEGATIVE_HUGE),  # 0: the base model's size
    ("train.evaluate.decoder_ablation", "--judge-size", ZERO_NEGATIVE_HUGE),
    ("train.evaluate.decoder_ablation", "--judge-steps", ZERO_NEGATIVE_HUGE),
    ("train.evaluate.decoder_ablation", "--bf16-check", NEGATIVE_HUGE),  # 0: none
]
CASES = [(command, flag, value) for command, flag, values in FLAGS for value in values]


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*"))


def refuse(main: Callable, argv: list[str], capsys) -> str:
    """Run ``main(argv)``; assert exit status 2 with one line on stderr; return that line."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "error" in err[0] and "Traceback" not in err[0]
    return err[0]


@pytest.mark.parametrize("command,flag,value", CASES, ids=[f"{c} {f} {v}" for c, f, v in CASES])
def test_every_numeric_flag_refuses_nonsense_before_any_work(command, flag, value, tmp_path, capsys) -> None:
    main, needed = COMMANDS[command]
    argv = [a.replace("OUT", str(tmp_path)) for a in needed] + [f"{flag}={value}"]
    line = refuse(main, argv, capsys)
    assert flag in line and value in line  # says which flag and what it got
    assert files_under(tmp_path) == []     # nothing written, no folder made


def test_every_command_line_is_in_the_table() -> None:
    """A new CLI or numeric flag must join the table: the listed mains build core.cli_args.Parser,
    and no module of train/ or app/ takes a number with a bare ``type=int`` / ``type=float``."""
    mains = {main for main, _ in COMMANDS.values()}
    assert mains >= {app_cli.main, data.main, evaluate.main, hand_finder.main, hand_finder_eval.main,
                     mediapipe_calibration.main, pose_export.main, experiments.main, judge.main, decoder_ablation.main}
    for module in (app_cli, data, evaluate, hand_finder, hand_finder_eval, mediapipe_calibration, pose_export,
                   experiments, fit, real_eval, finger_follow, bundle, judge, decoder_ablation):
        assert "argparse.ArgumentParser(" not in Path(module.__file__).read_text(), module.__name__
    unbounded = [f"{path.relative_to(ROOT)}: {token}" for folder in ("train", "app")
                 for path in sorted((ROOT / folder).rglob("*.py")) for token in ("type=int,", "type=int)",
                                                                                 "type=float,", "type=float)")
                 if token in path.read_text()]
    assert unbounded == [], "give these flags a bounded type from core.cli_args and a row in FLAGS"


def test_negative_numbers_that_mean_something_are_read_either_way() -> None:
    for argv in (["--crop", "-50,-50,100"], ["--crop=-50,-50,100"]):
        assert app_cli.parse_args(argv).crop == (-50.0, -50.0, 100.0)
    assert app_cli.parse_args(["--crop", "-0.5,1e2,100"]).crop == (-0.5, 100.0, 100.0)


@pytest.mark.parametrize("crop", ["5000,5000,100", "-50,-50,10", "640,0,50"])
def test_a_crop_outside_the_photo_is_refused(crop, tmp_path, capsys) -> None:
    photo = write_test_photo(tmp_path / "hand.png")  # 640 x 480
    line = refuse(app_cli.main, ["--image", str(photo), "--crop", crop, "--screenshot", str(tmp_path / "s.png")],
                  capsys)
    assert "lies outside the" in line and "photo" in line
    assert not (tmp_path / "s.png").exists()


def test_a_crop_without_a_photo_is_refused(tmp_path, capsys) -> None:
    assert "give --image too" in refuse(app_cli.main, ["--crop", "1,2,30"], capsys)


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def deep_json(folder: Path) -> Path:
    path = folder / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    return path


def one_point_hand(folder: Path) -> Path:
    path = folder / "point.json"
    path.write_text(json.dumps({"people": [{"hand_right_keypoints_2d": [50.0, 50.0, 1.0] * 21}]}))
    return path


# The issue's table, as a user types it: (arguments; OUT = the test's folder), run as processes.
PROCESS_CASES = [
    ["main.py", "--size", "100000x100000", "--screenshot", "OUT/shot.png"],
    ["main.py", "--image", "PHOTO", "--crop", "5000,5000,100", "--screenshot", "OUT/shot.png"],
    ["main.py", "--image", "PHOTO", "--crop", "-50,-50,10", "--screenshot", "OUT/shot.png"],
    ["-m", "train.hand_finder.training", "--minutes", "-5", "--out", "OUT/finder"],
    ["-m", "train.hand_finder.training", "--minutes", "0", "--out", "OUT/finder"],
    ["-m", "train.hand_finder.training", "--batch", "-3", "--out", "OUT/finder"],
    ["-m", "train.data", "generate", "--out", "OUT/synth", "--count", "10", "--size", "0"],
    ["-m", "train.data", "generate", "--out", "OUT/synth", "--count", "10", "--size", "100000"],
    ["-m", "train.pose_export", "import", "--openpose", "DEEP", "--out", "OUT/pose.json"],
    ["-m", "train.pose_export", "import", "--openpose", "POINT", "--out", "OUT/pose.json"],
]


@pytest.mark.slow
@pytest.mark.parametrize("args", PROCESS_CASES, ids=[" ".join(a[:4]) for a in PROCESS_CASES])
def test_the_issues_bad_inputs_end_in_one_line_and_exit_2(args, tmp_path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    made = {"PHOTO": lambda: write_test_photo(inputs / "hand.png"), "DEEP": lambda: deep_json(inputs),
            "POINT": lambda: one_point_hand(inputs)}
    out = tmp_path / "out"
    out.mkdir()
    argv = [str(made[a]()) if a in made else a.replace("OUT", str(out)) for a in args]
    result = run(*argv)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert files_under(out) == []


MOVED_COMMANDS = {"train.hand_finder_eval": "train.hand_finder.eval", "train.real_eval": "train.evaluate.real",
                  "train.judge": "train.evaluate.judge", "train.decoder_ablation": "train.evaluate.decoder_ablation",
                  "train.decoder_curve": "train.evaluate.decoder_curve", "train.finger_follow": "train.evaluate.finger_follow",
                  "train.mediapipe_calibration": "train.evaluate.mediapipe_calibration",
                  "train.photo_fit_eval": "train.evaluate.photo_fit"}


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")  # modules imported by other tests
@pytest.mark.parametrize("old", sorted(MOVED_COMMANDS))
def test_an_old_command_name_runs_the_moved_command_and_says_where_it_went(old, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [old, "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module(old, run_name="__main__", alter_sys=True)
    assert exit_.value.code == 0
    out, err = capsys.readouterr()
    assert f"is now python -m {MOVED_COMMANDS[old]}" in err and f"usage: python -m {MOVED_COMMANDS[old]}" in out
