"""Samples spent per problem, and accuracy against samples spent (adaptive sampling)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from verimath.report.model import Plot, Section, Table
from verimath.report.runs import Run
from verimath.report.section_data import SpendFigures

__all__ = ["spend_section"]

TEXT = (
    "Samples drawn per voted problem. Without --adaptive every problem gets k; with it, "
    "sampling stops once the remaining samples cannot (exact mode) or very probably will not "
    "(probabilistic mode) change the weighted winner. 'saved' is the share of the k-sample "
    "budget not spent; the second table gives the accuracy of the voted answer for the "
    "problems that stopped after each number of samples."
)


def spend_section(runs: Sequence[Run]) -> Section:
    data = {run.label: _figures(run) for run in runs}
    summary = Table(
        "Samples spent",
        ("", "adaptive", "k", "problems", "samples / problem", "saved", "voted accuracy"),
        tuple(
            (
                label,
                d["adaptive"],
                str(d["k"]),
                str(d["problems"]),
                f"{d['mean']:.2f}",
                f"{d['saved']:.1%}",
                f"{d['accuracy']:.2%}",
            )
            for label, d in data.items()
            if d["problems"]
        ),
    )
    spent = sorted({n for d in data.values() for n in d["by_spent"]})
    by_spent = Table(
        "Voted accuracy by samples spent (problems)",
        ("", *(str(n) for n in spent)),
        tuple(
            (label, *(_cell(d["by_spent"].get(n)) for n in spent))
            for label, d in data.items()
            if d["problems"]
        ),
    )
    plot = Plot("samples_spent", "samples_spent", "Voted accuracy against samples spent")
    return Section("spend", "Samples spent", TEXT, (summary, by_spent), (plot,), data)


def _figures(run: Run) -> SpendFigures:
    votes = list(run.votes.values())
    adaptive = run.config.get("adaptive") or "off"
    if not votes:
        return {"adaptive": adaptive, "k": run.k, "problems": 0, "by_spent": {}}
    used = [v.samples_used for v in votes]
    counts = Counter(used)
    correct = Counter(v.samples_used for v in votes if v.correct)
    return {
        "adaptive": adaptive,
        "k": run.k,
        "problems": len(votes),
        "mean": sum(used) / len(used),
        "saved": 1 - sum(used) / (run.k * len(used)),
        "accuracy": sum(v.correct for v in votes) / len(votes),
        "by_spent": {n: (correct[n] / counts[n], counts[n]) for n in sorted(counts)},
    }


def _cell(entry: tuple[float, int] | None) -> str:
    return "–" if entry is None else f"{entry[0]:.1%} ({entry[1]})"
