"""Code Usage Frequency: its distribution, accuracy by it, and both by level and subject
(the paper's Figures 2 and 5)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from verimath.report.groups import levels_of, subject_header, subjects_of
from verimath.report.model import Plot, Section, Table
from verimath.report.runs import ProblemRow, Run
from verimath.report.section_data import (
    BucketCount,
    CodeUsageData,
    Distribution,
    GroupFigures,
)

__all__ = ["BUCKET_CAP", "bucket_of", "code_usage_section"]

BUCKET_CAP = 6
"""Frequencies from this many executions up share one bucket (``≥6``) in tables and plots."""

TEXT = (
    "Code Usage Frequency is the number of code cells a sample actually executed (refused "
    "cells not counted). The distribution is the share of each run's samples per frequency; "
    "accuracy by frequency is single-sample accuracy among the samples with that frequency "
    "(n = samples). The paper finds accuracy rising with code use, more so on harder "
    "problems: the per-level and per-subject tables give the mean frequency next to accuracy."
)


def bucket_of(executions: int) -> str:
    return str(executions) if executions < BUCKET_CAP else f"≥{BUCKET_CAP}"


def _buckets(runs: Sequence[Run]) -> list[str]:
    highest = max((s.code_executions for r in runs for s in r.all_samples()), default=0)
    return [bucket_of(i) for i in range(min(highest, BUCKET_CAP) + 1)]


def code_usage_section(runs: Sequence[Run]) -> Section:
    buckets = _buckets(runs)
    distribution = {r.label: _distribution(r, buckets) for r in runs}
    data: CodeUsageData = {
        "buckets": buckets,
        "distribution": distribution,
        "by_level": {r.label: _by_group(r, lambda p: p.level) for r in runs},
        "by_subject": {r.label: _by_group(r, lambda p: p.subject) for r in runs},
    }
    tables = [
        _distribution_table(runs, buckets, distribution),
        _accuracy_table(runs, buckets, distribution),
    ]
    plots = [
        Plot("code_usage", "code_usage", "Code Usage Frequency: share of samples and accuracy"),
    ]
    for key, label, by_group, groups in (
        ("by_level", "level", data["by_level"], [str(v) for v in levels_of(runs)]),
        ("by_subject", "subject", data["by_subject"], subjects_of(runs)),
    ):
        if groups:
            tables.append(_group_table(runs, by_group, label, groups))
            caption = f"Accuracy and Code Usage Frequency by {label}"
            plots.append(Plot(f"code_usage_{key}", f"code_usage_{key}", caption))
    return Section("code_usage", "Code usage", TEXT, tuple(tables), tuple(plots), data)


def _distribution(run: Run, buckets: Sequence[str]) -> Distribution:
    samples = run.all_samples()
    rows: dict[str, BucketCount] = {}
    for bucket in buckets:
        members = [s for s in samples if bucket_of(s.code_executions) == bucket]
        correct = sum(s.correct for s in members)
        rows[bucket] = {"samples": len(members), "correct": correct}
    mean = sum(s.code_executions for s in samples) / len(samples) if samples else None
    return {"samples": len(samples), "mean": mean, "buckets": rows}


def _by_group(run: Run, key: Callable[[ProblemRow], object]) -> dict[str, GroupFigures]:
    """Per group of problems: samples, single-sample accuracy, mean code executions."""
    totals: dict[str, list[int]] = {}
    for problem in run.problems:
        for sample in run.samples.get(problem.problem_id, ()):
            group = key(problem)
            if group is None:
                continue
            entry = totals.setdefault(str(group), [0, 0, 0])
            entry[0] += 1
            entry[1] += sample.correct
            entry[2] += sample.code_executions
    return {
        group: {"samples": n, "accuracy": correct / n, "mean_code": code / n}
        for group, (n, correct, code) in totals.items()
    }


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "–"


def _distribution_table(
    runs: Sequence[Run], buckets: list[str], distribution: dict[str, Distribution]
) -> Table:
    rows = []
    for run in runs:
        entry = distribution[run.label]
        n = entry["samples"]
        shares = [_share(entry["buckets"][b]["samples"], n) for b in buckets]
        mean = "–" if entry["mean"] is None else f"{entry['mean']:.2f}"
        rows.append((run.label, *shares, mean, str(n)))
    return Table(
        "Code Usage Frequency: share of samples (%)",
        ("", *buckets, "mean", "samples"),
        tuple(rows),
    )


def _accuracy_table(
    runs: Sequence[Run], buckets: list[str], distribution: dict[str, Distribution]
) -> Table:
    rows = []
    for bucket in buckets:
        cells = []
        for run in runs:
            entry = distribution[run.label]["buckets"][bucket]
            n = entry["samples"]
            cells.append(f"{_share(entry['correct'], n)} (n={n})" if n else "–")
        rows.append((bucket, *cells))
    return Table(
        "Single-sample accuracy (%) by Code Usage Frequency",
        ("code executions", *(run.label for run in runs)),
        tuple(rows),
    )


def _group_table(
    runs: Sequence[Run], data: dict[str, dict[str, GroupFigures]], label: str, groups: list[str]
) -> Table:
    """Runs as rows, groups as columns: accuracy and mean code use in each cell."""
    rows = []
    for run in runs:
        cells = []
        for group in groups:
            entry = data[run.label].get(group)
            cells.append(
                f"{100 * entry['accuracy']:.1f} · {entry['mean_code']:.2f}" if entry else "–"
            )
        rows.append((run.label, *cells))
    headers = [subject_header(g) if label == "subject" else f"Level {g}" for g in groups]
    return Table(
        f"By {label}: single-sample accuracy % · mean Code Usage Frequency",
        ("", *headers),
        tuple(rows),
    )
