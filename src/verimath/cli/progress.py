"""The progress of ``verimath eval``: samples, rate, ETA, accuracy so far, failures, tokens, cost.

On a terminal, one live line that fits the terminal's width: the figures come first and are
never cut; the model name is shortened to the room left and a bar is drawn only where there is
room for one. When standard error is not a terminal (``nohup``, CI, a tmux log, ``2> file``),
one plain line every ``interval`` seconds and one at the end, so a log shows how a long run
goes while it goes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.text import Text

from verimath.engine import Progress as EngineProgress
from verimath.terminal import for_terminal

__all__ = ["DEFAULT_LOG_INTERVAL", "EvalProgressDisplay", "progress_figures"]

DEFAULT_LOG_INTERVAL = 30.0
MIN_NAME = 8  # below this the model name says nothing; leave it out
MIN_BAR = 10
SEPARATOR = " · "


def _duration(elapsed: float) -> str:
    hours, rest = divmod(round(elapsed), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def progress_figures(progress: EngineProgress, rate: float | None) -> list[tuple[str, str]]:
    """The figures of the line, as ``(text, style)``, most important first.

    ``rate`` is samples per second measured in this process (``None`` until a sample finished).
    Before the engine knows how many samples there are, the count says so instead of ``0/?``.
    """
    total, done = progress.samples_total, progress.samples_done
    if not total and not done:
        return [("preparing", "dim")]
    figures = [(f"{done:,}/{total:,}", "bold"), (f"{done / total:.0%}" if total else "", "")]
    left = max(total - done, 0)
    if rate:
        figures.append((f"{rate:.2f}/s" if rate < 10 else f"{rate:.0f}/s", ""))
        figures.append((f"eta {_duration(left / rate)}" if left else "done", "cyan"))
    else:
        figures.append(("eta -" if left else "done", "cyan"))
    accuracy = progress.voted_accuracy
    figures.append(
        (f"acc {accuracy:.1%} of {progress.problems_done:,}", "green")
        if accuracy is not None
        else ("acc -", "green")
    )
    figures.append((f"{progress.failures:,} failed", "red" if progress.failures else "dim"))
    return [(text, style) for text, style in figures if text]


def _extras(progress: EngineProgress) -> list[tuple[str, str]]:
    extras = []
    tokens = progress.prompt_tokens + progress.completion_tokens
    if tokens:
        extras.append((f"{tokens:,} tok", "dim"))
    if progress.cost_usd:
        extras.append((f"${progress.cost_usd:.2f}", "dim"))
    return extras


def shorten(name: str, width: int) -> str:
    """``name`` in at most ``width`` characters, keeping its end (where model names differ)."""
    if len(name) <= width:
        return name
    return "…" + name[len(name) - width + 1 :]


class _Line:
    """The live line, laid out for the width rich gives it at each refresh."""

    def __init__(self, display: EvalProgressDisplay) -> None:
        self.display = display

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.display.line(options.max_width)


class EvalProgressDisplay:
    """The progress of an eval, fed by the engine's progress callback.

    Use as a context manager around the run; ``update`` is the engine's ``on_progress``.
    """

    def __init__(
        self,
        console: Console,
        model_name: str,
        *,
        label: str | None = None,
        interval: float = DEFAULT_LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.model_name = for_terminal(model_name)
        self.label = for_terminal(label or model_name)
        self.interval = interval
        self._clock = clock
        self._progress: EngineProgress | None = None
        self._baseline: tuple[float, int] | None = None  # (time, samples done) at the first update
        self._live = (
            Live(_Line(self), console=console, refresh_per_second=4, transient=False)
            if console.is_terminal
            else None
        )
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> EvalProgressDisplay:
        if self._live is not None:
            self._live.start()
        elif self.interval > 0:
            self._ticker = threading.Thread(target=self._tick, name="eval-progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self._live is not None:
            self._live.stop()
        elif self._progress is not None:
            self.log_line()

    def update(self, progress: EngineProgress) -> None:
        self._progress = progress
        if self._baseline is None:
            self._baseline = (self._clock(), progress.samples_done)

    def rate(self) -> float | None:
        """Samples per second since the first update (samples resumed from the file excluded)."""
        if self._progress is None or self._baseline is None:
            return None
        started, done_then = self._baseline
        elapsed = self._clock() - started
        done = self._progress.samples_done - done_then
        return done / elapsed if done > 0 and elapsed > 0 else None

    def line(self, width: int) -> Text:
        """The live line in at most ``width`` columns: figures, then name, extras and a bar."""
        if self._progress is None:
            return Text("preparing", style="dim")
        parts = progress_figures(self._progress, self.rate())
        wide = sum(len(text) for text, _ in parts) + len(SEPARATOR) * (len(parts) - 1) <= width
        separator = SEPARATOR if wide else " "  # narrow terminals: every column for the figures
        line = Text(no_wrap=True, overflow="crop")
        for text, style in parts:
            _append(line, text, style, separator)
        for text, style in _extras(self._progress):
            if len(line) + 2 * len(separator) + len(text) + MIN_NAME <= width:
                _append(line, text, style, separator)
        room = width - len(line) - len(separator)
        if room >= MIN_NAME:
            name = shorten(self.label, min(room, 40))
            _append(line, name, "bold", separator)
            room -= len(name) + 1
        total = self._progress.samples_total
        if room >= MIN_BAR and total:
            filled = round(room * min(self._progress.samples_done / total, 1.0))
            line.append(" ")
            line.append("━" * filled, style="magenta")
            line.append("━" * (room - filled), style="grey23")
        return line

    def log_line(self) -> None:
        """One plain line for a log: time, figures, extras and the full model name."""
        if self._progress is None:
            return
        parts = progress_figures(self._progress, self.rate()) + _extras(self._progress)
        text = SEPARATOR.join(p for p, _ in parts)
        stamp = time.strftime("%H:%M:%S")
        self.console.print(
            f"{stamp} {text}{SEPARATOR}{self.model_name}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.log_line()


def _append(line: Text, text: str, style: str, separator: str = SEPARATOR) -> None:
    if len(line):
        line.append(separator, style="dim")
    line.append(text, style=style)
