"""Failure categories: why samples ended without a correct answer, counted apart."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from verimath.grading import Status
from verimath.report.model import Section, Table
from verimath.report.runs import Run, SampleRow

__all__ = ["CATEGORIES", "CELL_STATUSES", "failures_section"]

CELL_STATUSES = ("ok", "error", "timeout", "memory", "killed", "refused")


def _cells(sample: SampleRow, *statuses: str) -> int:
    """How many of the sample's code cells ended with one of ``statuses``."""
    return sum(sample.stats.cell_statuses.get(status, 0) for status in statuses)


CATEGORIES: tuple[tuple[str, str, Callable[[SampleRow], bool]], ...] = (
    ("no_answer", "no answer extracted", lambda s: s.answer is None),
    ("unparseable", "grade unparseable", lambda s: s.grade is Status.UNPARSEABLE),
    (
        "grading_timeout",
        "grade timeout (the comparison timed out)",
        lambda s: s.grade is Status.TIMEOUT,
    ),
    ("max_turns", "stopped at max turns", lambda s: s.stop_reason == "max_turns"),
    (
        "code_budget",
        "stopped at the code budget",
        lambda s: s.stop_reason in {"max_code_executions", "refused_code"},
    ),
    (
        "token_budget",
        "stopped at the token budget or length",
        lambda s: s.stop_reason in {"token_budget", "length"},
    ),
    (
        "context",
        "stopped at the model's context limit",
        lambda s: s.stop_reason == "context",
    ),
    ("cut", "cut short (any of the four stops above)", lambda s: s.cut),
    (
        "cell_timeout",
        "a code cell timed out",
        lambda s: s.stats.cell_statuses.get("timeout", 0) > 0,
    ),
    (
        "cell_killed",
        "a code cell was killed or ran out of memory",
        lambda s: (
            s.stats.cell_statuses.get("killed", 0) + s.stats.cell_statuses.get("memory", 0) > 0
        ),
    ),
    (
        "tool_error",
        "a code cell raised an error",
        lambda s: s.stats.cell_statuses.get("error", 0) > 0,
    ),
    ("refused", "a code cell was refused", lambda s: s.code_refusals > 0),
)
"""(key, label, test) per category; a sample can be in several."""

TEXT = (
    "Samples per category, with the share of the run's stored samples; categories overlap (a "
    "sample whose cell timed out may still be correct). Grades are counted apart: "
    "'unparseable' means no answer could be read, 'timeout' that the answer comparison itself "
    "timed out. 'Sample failures' are attempts that raised an error (model, sandbox, grader; "
    "each listed with the kind of its error); their samples are missing until the run is resumed."
)


def failures_section(runs: Sequence[Run]) -> Section:
    data: dict[str, Any] = {run.label: _run_data(run) for run in runs}
    rows = [
        (label, *(_cell(data[r.label]["categories"][key], data[r.label]["samples"]) for r in runs))
        for key, label, _ in CATEGORIES
    ]
    rows.append(("sample failures (errors)", *(str(len(r.failures)) for r in runs)))
    rows.append(("samples missing after a failure", *(str(r.missing) for r in runs)))
    rows.append(("problems not voted yet", *(str(data[r.label]["unvoted"]) for r in runs)))
    cells = [
        (status, *(str(data[r.label]["cells"].get(status, 0)) for r in runs))
        for status in CELL_STATUSES
    ]
    tables = [
        Table("Failure categories (samples)", ("", *(r.label for r in runs)), tuple(rows)),
        Table("Code cells by status", ("status", *(r.label for r in runs)), tuple(cells)),
    ]
    errors = [
        (r.label, str(count), message)
        for r in runs
        for message, count in data[r.label]["errors"].items()
    ]
    if errors:
        tables.append(
            Table("Most frequent sample failures", ("run", "count", "error"), tuple(errors))
        )
    return Section("failures", "Failures", TEXT, tuple(tables), (), data)


def _run_data(run: Run) -> dict[str, Any]:
    samples = run.all_samples()
    cells: Counter[str] = Counter()
    for sample in samples:
        cells.update(sample.stats.cell_statuses)
    errors = Counter(_first_line(f.described) for f in run.failures).most_common(3)
    return {
        "samples": len(samples),
        "missing": run.missing,
        "unvoted": sum(p.problem_id not in run.votes for p in run.problems),
        "categories": {key: sum(test(s) for s in samples) for key, _, test in CATEGORIES},
        "grades": dict(Counter(s.grade for s in samples)),
        "stop_reasons": dict(Counter(s.stop_reason for s in samples)),
        "cells": dict(cells),
        "failures": len(run.failures),
        "errors": dict(errors),
    }


def _cell(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.1f}%)" if total else "–"


def _first_line(error: str) -> str:
    line = error.strip().splitlines()[0] if error.strip() else "(empty error)"
    return line[:160]
