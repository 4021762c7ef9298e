"""Progress lines for logs and CI (``--no-progress``): step, loss, samples/s and time left, at
least every interval, with a fake clock (no timing in the test)."""
from __future__ import annotations

import math

from train.loop.hooks import ProgressLines, format_progress, progress_of
from train.loop.trainer import StepReport


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


def test_the_first_line_already_has_a_loss_a_rate_and_the_time_left_for_the_whole_run() -> None:
    """A log window of 50 steps (minutes on a CPU) must not leave the first lines blank: the first
    line, after one step, shows the loss, samples/s, this phase's time left and the whole run's."""
    from tests.trainer_toys import make_toy_trainer

    lines: list[str] = []
    hook = ProgressLines("train.fit: ", write=lines.append, later_steps=300)  # e.g. the embed phase to come
    trainer = make_toy_trainer(max_steps=100, hooks=[hook], log_every=50)
    steps = trainer.steps()
    first = next(steps)
    steps.close()
    assert not first.logged and len(lines) == 1
    line = lines[0]
    assert line.startswith("train.fit: toy step 1/100 | total ") and "loss -" not in line, line
    assert "- samples/s" not in line and "time left -" not in line, line
    assert line.endswith(" in all)")  # the phases still to come are counted


class _Fresh:
    """A trainer whose first log window is still open: 1 step, loss 0.5, 4 samples/s so far."""

    def window_so_far(self):
        return {"total": 0.5}, 4.0


def test_before_the_first_window_the_time_left_comes_from_the_mean_step() -> None:
    first = StepReport(step=1, max_steps=100, losses={}, samples_per_s=math.nan, elapsed_s=8.8, eta_s=math.nan,
                       phase="disentangle", logged=False)
    progress = progress_of(_Fresh(), first, later_steps=300)  # 8.8 s a step, 99 + 300 steps to go
    assert progress.losses == {"total": 0.5} and progress.samples_per_s == 4.0
    assert progress.phase_left_s == 99 * 8.8 and math.isclose(progress.run_left_s, 399 * 8.8)
    line = format_progress(first, "train.fit: ", progress=progress)
    assert line == "train.fit: disentangle step 1/100 | total 0.5 | 4.0 samples/s | 14:31 left (58:31 in all)"
    later = report(40, eta_s=600.0)  # a closed window: its figures, 10 s a step for the 60 + 300 to go
    assert progress_of(_Fresh(), later, later_steps=300).run_left_s == 3600.0


def test_the_bar_shows_the_same_figures_from_the_first_step() -> None:
    from tests.trainer_toys import make_toy_trainer
    from train.loop.hooks import ProgressBar

    bar = ProgressBar(later_steps=300)
    trainer = make_toy_trainer(max_steps=100, hooks=[bar], log_every=50)
    steps = trainer.steps()
    next(steps)
    postfix = bar._bar.postfix
    steps.close()
    assert "total=" in postfix and "samples/s=" in postfix and "run left=" in postfix and "run left=-" not in postfix
