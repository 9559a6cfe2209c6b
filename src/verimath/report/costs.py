"""Tokens, cost and latency per problem."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from verimath.report.model import Plot, Section, Table
from verimath.report.runs import Run
from verimath.report.section_data import CostFigures

__all__ = ["costs_section"]

TEXT = (
    "Per problem: tokens and cost summed over its k samples, then averaged over problems "
    "(cost is unknown, '–', when any sample's model reported none). Latency: the wall-clock "
    "time of one sample from its first model call to its answer, of which model calls and "
    "code cells are the parts shown (the rest is grading and scheduling; samples of a "
    "problem run concurrently, so a problem takes about its slowest sample). Replayed "
    "recordings spend no tokens."
)

METRICS = (
    ("problems", "problems with samples", "{:.0f}"),
    ("samples", "samples", "{:.0f}"),
    ("prompt_tokens", "prompt tokens / problem", "{:,.0f}"),
    ("completion_tokens", "completion tokens / problem", "{:,.0f}"),
    ("cost", "cost / problem (USD)", "{:.4f}"),
    ("total_cost", "total cost (USD)", "{:.2f}"),
    ("turns", "model turns / sample", "{:.2f}"),
    ("latency_mean", "sample latency, mean (s)", "{:.2f}"),
    ("latency_median", "sample latency, median (s)", "{:.2f}"),
    ("latency_p90", "sample latency, 90th percentile (s)", "{:.2f}"),
    ("model_time", "model time / sample (s)", "{:.2f}"),
    ("code_time", "code time / sample (s)", "{:.2f}"),
    ("problem_time", "sample time / problem, summed (s)", "{:.2f}"),
)


def costs_section(runs: Sequence[Run]) -> Section:
    data = {run.label: _figures(run) for run in runs}
    rows = tuple(
        (label, *(_format(data[r.label].get(key), form) for r in runs))
        for key, label, form in METRICS
    )
    table = Table("Tokens, cost and latency", ("", *(r.label for r in runs)), rows)
    plot = Plot("latency", "latency", "Mean sample latency: model calls, code cells, the rest")
    return Section("costs", "Tokens, cost and latency", TEXT, (table,), (plot,), data)


def _figures(run: Run) -> CostFigures:
    groups = [run.samples[p.problem_id] for p in run.problems if p.problem_id in run.samples]
    samples = [s for group in groups for s in group]
    if not samples:
        return {"problems": 0, "samples": 0}
    costs = [s.cost_usd for s in samples]
    known_cost = all(c is not None for c in costs)
    durations = sorted(s.duration_s for s in samples)
    return {
        "problems": len(groups),
        "samples": len(samples),
        "prompt_tokens": _mean([sum(s.prompt_tokens for s in g) for g in groups]),
        "completion_tokens": _mean([sum(s.completion_tokens for s in g) for g in groups]),
        "cost": _mean([sum(s.cost_usd or 0.0 for s in g) for g in groups]) if known_cost else None,
        "total_cost": sum(c or 0.0 for c in costs) if known_cost else None,
        "turns": _mean([s.stats.turns for s in samples]),
        "latency_mean": _mean(durations),
        "latency_median": statistics.median(durations),
        "latency_p90": _quantile(durations, 0.9),
        "model_time": _mean([s.stats.model_time_s for s in samples]),
        "code_time": _mean([s.stats.code_time_s for s in samples]),
        "problem_time": _mean([sum(s.duration_s for s in g) for g in groups]),
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile by linear interpolation between order statistics."""
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _format(value: object, form: str) -> str:
    return "–" if value is None else form.format(value)
