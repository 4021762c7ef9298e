"""The README's commands run in a fresh clone as written: the quick ones are run here, in order, in a
scratch folder that holds only what a clone has (``examples/``, ``configs/``, ``main.py``); every
other command line in the README is listed below with why it is not run (hours of training, a
dataset a user brings), so a new README command has to be sorted into one or the other."""
from __future__ import annotations

import os
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Run by this test, in this order (each may need what the one before wrote), with what it must write.
RUN = {
    "python -m train.data preview synthetic --out sheet.png": ["sheet.png"],
    "python -m train.pose_export export --pose examples/pose.json --out exported --size 512":
        ["exported/pose_openpose.json", "exported/pose_depth.png", "exported/pose_image.png"],
    "python -m train.pose_export import --openpose exported/pose_openpose.json --out lifted.json": ["lifted.json"],
    "python -m train.fit --config configs/tiny.toml --out runs/tiny --no-progress": ["runs/tiny/model.safetensors"],
    "xvfb-run -a python main.py --screenshot shot.png": ["shot.png"],
}

# Not run here, and why (the README says how long each takes).
NOT_RUN = {
    "python -m train.hand_finder ": "185 minutes of training",
    "python -m train.bundle finder ": "bundles the finder the line before trains",
    "python -m train.hand_finder.eval ": "needs the fixture photos (not in the repository); says so and exits 2",
    "scripts/retrain_bundle.sh": "about 9 hours of training",
    "python -m train.bundle model runs/": "bundles what the training before wrote",
    "python -m train.fit --config configs/default.toml": "15 hours on a CPU; for a GPU",
    "python -m train.data generate ": "100,000 renders (minutes to hours)",
    "python -m train.evaluate ": "10-15 minutes (synthetic, fitting each sample), or a dataset the user has",
    "python -m train.bench": "minutes of measuring",
    "$(command -v sudo) apt-get ": "system packages (.ci/run installs them)",
    "python3 -m venv ": "the set-up this test runs in (.ci/run runs it verbatim)",
    "pip install ": "the set-up this test runs in (.ci/run runs the test line verbatim)",
}


def readme_commands() -> list[str]:
    """Every command line of the README's bash blocks, comments dropped, continuations joined."""
    text = (ROOT / "README.md").read_text()
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def test_every_readme_command_is_run_here_or_says_why_not() -> None:
    commands = readme_commands()
    unsorted = [c for c in commands if c not in RUN and not any(c.startswith(p) for p in NOT_RUN)]
    assert unsorted == [], "sort these README commands into RUN or NOT_RUN"
    assert all(c in commands for c in RUN)  # what is run here is what the README says


def scratch_clone(folder: Path) -> Path:
    """A folder with what a fresh clone has that the commands read (links, not copies)."""
    for name in ("examples", "configs", "main.py"):
        (folder / name).symlink_to(ROOT / name)
    return folder


@pytest.mark.slow
def test_the_quick_readme_commands_run_in_order_as_written(tmp_path) -> None:
    work = scratch_clone(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for command, outputs in RUN.items():
        argv = shlex.split(command)
        if argv[:2] == ["xvfb-run", "-a"]:
            argv = argv[2:]  # the tests run under pytest-xvfb's X server already
        argv = [sys.executable if a == "python" else a for a in argv]
        result = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
        missing = [o for o in outputs if not (work / o).is_file()]
        assert missing == [], f"{command} did not write {missing}"


def test_tools_that_need_the_fixture_photos_say_so_and_fail_without_them(tmp_path, capsys) -> None:
    from train.evaluate import real as real_eval
    from train.hand_finder import eval as hand_finder_eval

    absent = str(tmp_path / "no_fixtures")
    assert real_eval.main(["--fixtures", absent]) == 2
    assert hand_finder_eval.main(["--fixtures", absent, "--sheet", str(tmp_path / "sheet.png")]) == 2
    assert hand_finder_eval.main(["--fixtures", absent, "--renders", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("no fixture photos at") == 3 and "--sheet need them" in err
    assert list(tmp_path.iterdir()) == []


README_TOOLS = sorted(set(re.findall(r"python -m (train(?:\.\w+)+)", (ROOT / "README.md").read_text())))


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")  # modules imported by other tests
@pytest.mark.parametrize("module", README_TOOLS)
def test_every_tool_the_readme_names_answers_help(module, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    assert exit_.value.code == 0 and "usage:" in capsys.readouterr().out
