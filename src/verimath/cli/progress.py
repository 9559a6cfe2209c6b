"""The live progress line of ``verimath eval``: samples, ETA, running accuracy, tokens, cost."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from verimath.engine import Progress as EngineProgress


class EvalProgressDisplay:
    """A rich progress bar fed by the engine's progress callback."""

    def __init__(self, console: Console, model_name: str) -> None:
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} samples"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            console=console,
            transient=False,
        )
        self._task = self._bar.add_task(model_name, total=None, stats="")

    def __enter__(self) -> EvalProgressDisplay:
        self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.stop()

    def update(self, progress: EngineProgress) -> None:
        accuracy = progress.voted_accuracy
        stats = [
            f"voted acc {accuracy:.1%} of {progress.problems_done}"
            if accuracy is not None
            else "voted acc -",
            f"tokens {progress.prompt_tokens + progress.completion_tokens:,}",
        ]
        if progress.cost_usd:
            stats.append(f"${progress.cost_usd:.2f}")
        if progress.failures:
            stats.append(f"[red]{progress.failures} failed[/red]")
        self._bar.update(
            self._task,
            total=progress.samples_total,
            completed=progress.samples_done,
            stats=" · ".join(stats),
        )
