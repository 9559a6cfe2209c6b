"""The paper-style summary table printed at the end of ``verimath eval``."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from verimath.summary import Breakdown, RunSummary
from verimath.terminal import for_terminal


def print_summary(
    console: Console, summary: RunSummary, path: Path, recorded_accuracy: float | None = None
) -> None:
    table = Table(title=Text(f"run {for_terminal(path)}"))
    table.add_column("")
    table.add_column("problems", justify="right")
    table.add_column("weighted vote", justify="right")
    table.add_column("plain vote", justify="right")
    table.add_column("single sample", justify="right")
    for label, rows in (("subject", summary.by_subject), ("level", summary.by_level)):
        for row in rows:
            _add(table, f"{label} {for_terminal(row.name)}", row)
    _add(
        table,
        "overall",
        Breakdown(
            "overall",
            summary.problems_voted,
            summary.accuracy,
            summary.plain_accuracy,
            summary.sample_accuracy,
        ),
    )
    console.print(table)
    console.print(
        Text(
            f"{summary.samples} samples · code executions per sample "
            f"{summary.code_usage_mean:.2f} · verification {_counts(summary.states)} · "
            f"grades {_counts(summary.grades)}"
        )
    )
    cost = f" · ${summary.cost_usd:.2f}" if summary.cost_usd else ""
    console.print(
        Text(
            f"tokens: {summary.prompt_tokens:,} prompt, {summary.completion_tokens:,} "
            f"completion{cost} · stops {_counts(summary.stop_reasons)}"
        )
    )
    if summary.cut:
        console.print(cut_line(summary), highlight=False)
    if recorded_accuracy is not None:
        console.print(
            f"accuracy recorded in the replayed source: {recorded_accuracy:.2%} "
            f"(verimath, re-executing the code: {summary.sample_accuracy:.2%})"
        )
    if summary.incomplete:
        console.print(Text(for_terminal(incomplete_line(summary)), style="red"))


def cut_line(summary: RunSummary) -> str:
    """How many samples were cut short and the accuracies without them, in one line."""
    why = _counts(summary.cut)
    return (
        f"{summary.cut_samples} of {summary.samples} samples were cut short ({why}) and graded "
        f"on what they had; without them: weighted vote {_percent(summary.uncut_accuracy)}, "
        f"single sample {_percent(summary.uncut_sample_accuracy)}"
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def incomplete_line(summary: RunSummary) -> str:
    """How many samples failed and why, and how to retry them, in one line."""
    count = sum(summary.missing.values())
    why = "; ".join(
        f"{kind} x{n}: {summary.missing_errors[kind]}" for kind, n in summary.missing.items()
    )
    unvoted = summary.problems - summary.problems_voted
    return (
        f"{count} samples failed and are missing ({why or 'no failure recorded'}); "
        f"{unvoted} problems are not voted yet: fix the cause and rerun the same command "
        "to retry them"
    )


def _add(table: Table, name: str, row: Breakdown) -> None:
    table.add_row(
        Text(name),
        str(row.problems),
        f"{row.voted:.2%}",
        f"{row.plain_voted:.2%}",
        f"{row.sample_accuracy:.2%}",
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{for_terminal(key)} {value}" for key, value in sorted(counts.items()))
