"""Progress lines for logs and CI (``--no-progress``): step, loss, samples/s and time left, at
least every interval, with a fake clock (no timing in the test)."""
from __future__ import annotations

import math

from train.hooks import ProgressLines, format_progress
from train.trainer import StepReport


def report(step: int, max_steps: int = 100, eta_s: float = 754.0) -> StepReport:
    return StepReport(step=step, max_steps=max_steps, losses={"total": 0.12345, "image": 0.1}, samples_per_s=13.6,
                      elapsed_s=1.0, eta_s=eta_s, phase="embed", logged=True)


def test_a_progress_line_has_step_loss_rate_and_time_left() -> None:
    line = format_progress(report(40), "train.fit: ")
    assert line == "train.fit: embed step 40/100 | total 0.1235 | 13.6 samples/s | 12:34 left"
    assert format_progress(report(1, eta_s=math.nan)).endswith("time left -")
    assert "1:00:05 left" in format_progress(report(1, eta_s=3605.0))


def test_lines_come_at_the_first_step_every_interval_and_the_last_step() -> None:
    now = [0.0]
    lines: list[str] = []
    hook = ProgressLines(interval_s=30.0, write=lines.append, clock=lambda: now[0])
    hook.on_start(None)
    steps_at = {}
    for step in range(1, 101):
        now[0] = step * 4.0  # 4 s a step
        before = len(lines)
        hook.after_step(None, report(step))
        if len(lines) > before:
            steps_at[step] = now[0]
    assert list(steps_at)[0] == 1 and list(steps_at)[-1] == 100
    times = list(steps_at.values())
    assert all(b - a <= 32.0 for a, b in zip(times, times[1:]))   # never more than an interval (+ a step) apart
    assert len(lines) <= 100 * 4 / 30 + 3                            # and not one per step
