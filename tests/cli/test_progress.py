"""The eval progress display: the figures at 80 columns, plain lines in a log."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from verimath.cli.progress import EvalProgressDisplay, progress_figures
from verimath.engine import Progress

LONG_NAME = "replay:/tmp/pytest-of-someone/pytest-12/recordings0/MathCoder-CL-34b/GSM8K"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def running(done: int = 412, total: int = 1000, failures: int = 2) -> Progress:
    return Progress(
        samples_total=total,
        samples_done=done,
        problems_total=total,
        problems_done=103,
        voted_correct=78,
        prompt_tokens=1_000_000,
        completion_tokens=234_567,
        cost_usd=12.5,
        failures=failures,
    )


def advanced(display: EvalProgressDisplay, clock: Clock, progress: Progress) -> None:
    """Feed a start at 12 samples, then ``progress`` 100 s later."""
    display.update(Progress(samples_total=progress.samples_total, samples_done=12))
    clock.now += 100
    display.update(progress)


@pytest.mark.parametrize("width", [80, 60, 160])
def test_the_figures_are_whole_at_any_width_and_the_name_gives_way(width: int) -> None:
    clock = Clock()
    display = EvalProgressDisplay(
        Console(file=io.StringIO()), LONG_NAME, label="MathCoder-CL-34b-GSM8K", clock=clock
    )
    advanced(display, clock, running())
    line = display.line(width).plain
    assert len(line) <= width
    for figure in ("412/1,000", "41%", "4.00/s", "eta 2m27s", "acc 75.7% of 103", "2 failed"):
        assert figure in line, (figure, line)
    if width >= 80:
        assert "GSM8K" in line  # the name, shortened if need be, keeps its distinctive end
    if width >= 160:
        assert "━" in line and "$12.50" in line


def test_no_placeholder_before_the_engine_knows_the_total() -> None:
    display = EvalProgressDisplay(Console(file=io.StringIO()), "m")
    assert display.line(80).plain == "preparing"
    display.update(Progress())
    assert display.line(80).plain == "preparing · m"
    assert "None" not in " ".join(t for t, _ in progress_figures(Progress(samples_total=8), None))
    first = " · ".join(t for t, _ in progress_figures(Progress(samples_total=8), None))
    assert first.startswith("0/8 · 0% · eta - · acc - · 0 failed")


def test_resumed_samples_do_not_count_in_the_rate() -> None:
    clock = Clock()
    display = EvalProgressDisplay(Console(file=io.StringIO()), "m", clock=clock)
    display.update(Progress(samples_total=100, samples_done=90))  # resumed from the run file
    clock.now += 10
    display.update(Progress(samples_total=100, samples_done=95))
    assert display.rate() == pytest.approx(0.5)


def test_a_log_gets_a_plain_line_every_interval_and_one_at_the_end() -> None:
    sink = io.StringIO()
    console = Console(file=sink, force_terminal=False, width=80)
    display = EvalProgressDisplay(console, LONG_NAME, interval=0.05)
    with display:
        display.update(running(failures=0))
        for _ in range(100):
            if sink.getvalue().count("\n") >= 2:
                break
            display._stop.wait(0.05)
    lines = sink.getvalue().splitlines()
    assert len(lines) >= 3  # at least two ticks and the final line
    pattern = r"\d\d:\d\d:\d\d 412/1,000 · 41% · .* · acc 75.7% of 103 · 0 failed · "
    assert all(re.match(pattern, line) for line in lines), lines
    assert all(line.endswith(LONG_NAME) for line in lines)  # the whole name, never wrapped
    assert "\x1b" not in sink.getvalue()  # no terminal codes in a log


def test_interval_zero_prints_only_the_final_line() -> None:
    sink = io.StringIO()
    display = EvalProgressDisplay(Console(file=sink, force_terminal=False), "m", interval=0)
    with display:
        display.update(running())
    assert len(sink.getvalue().splitlines()) == 1
