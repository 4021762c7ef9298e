"""The README's quick start is what CI runs: its venv and test lines appear verbatim in .ci/run."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quick start"):readme.index("## The app")]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readme_quick_start_verbatim() -> None:
    lines = quick_start_lines()
    venv = next(line for line in lines if "-m venv" in line)
    tests = next(line for line in lines if line.endswith("python -m pytest"))
    assert "--extra-index-url https://download.pytorch.org/whl/cpu torch==2.13.0" in tests
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert venv in ci and tests in ci
    assert ci.index(venv) < ci.index(tests)
