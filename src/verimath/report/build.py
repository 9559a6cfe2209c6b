"""Assemble a report from run files: load, label, compute every section."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verimath import __version__
from verimath.errors import ConfigError
from verimath.report.accuracy import accuracy_section
from verimath.report.bootstrap import DEFAULT_RESAMPLES, Bootstrap
from verimath.report.code_usage import code_usage_section
from verimath.report.confusion import verification_section
from verimath.report.costs import costs_section
from verimath.report.curves import DEFAULT_TRIALS, Equivalent, voting_section
from verimath.report.failures import failures_section
from verimath.report.labels import label_runs
from verimath.report.model import Report, ReportSettings, RunInfo
from verimath.report.runs import Run, load_run
from verimath.report.spend import spend_section

__all__ = ["ReportOptions", "build_report", "load_runs"]


@dataclass(frozen=True)
class ReportOptions:
    """Settings of the statistics in a report."""

    resamples: int = DEFAULT_RESAMPLES
    """Bootstrap resamples per interval (0: no intervals)."""
    seed: int = 0
    """Seed of the bootstrap and of the voting curves' subset sampling."""
    confidence: float = 0.95
    """Level of the bootstrap intervals."""
    curve_trials: int = DEFAULT_TRIALS
    """Random k-subsets per problem and k for voting curves, when not all are enumerated."""
    title: str | None = None


def load_runs(paths: Sequence[str | Path]) -> list[Run]:
    """Runs from their files, labelled for side-by-side tables."""
    if not paths:
        raise ConfigError("a report needs at least one run file")
    return label_runs([load_run(path) for path in paths])


def build_report(
    runs: Sequence[Run], equivalent: Equivalent, options: ReportOptions = ReportOptions()
) -> Report:
    """Every section of the report for ``runs`` (labelled by :func:`load_runs`).

    ``equivalent(a, b, dataset)`` groups answers for the voting curves: pass
    ``Grader().equivalent``.
    """
    boot = Bootstrap(options.resamples, options.seed, options.confidence)
    sections = (
        accuracy_section(runs, boot),
        code_usage_section(runs),
        verification_section(runs, boot),
        voting_section(runs, equivalent, trials=options.curve_trials, seed=options.seed),
        failures_section(runs),
        costs_section(runs),
        spend_section(runs),
    )
    title = options.title or "verimath report: " + ", ".join(run.label for run in runs)
    settings: ReportSettings = {
        "bootstrap_resamples": options.resamples,
        "confidence": options.confidence,
        "seed": options.seed,
        "curve_trials": options.curve_trials,
        "verimath": __version__,
    }
    return Report(title, tuple(_info(run) for run in runs), sections, settings)


def _info(run: Run) -> RunInfo:
    return RunInfo(
        label=run.label,
        path=str(run.path),
        strategy=run.strategy,
        model=run.model,
        dataset=run.dataset,
        samples=run.k,
        weights=run.weights.spec(),
        problems=len(run.problems),
        stored_samples=sum(len(s) for s in run.samples.values()),
        git_revision=run.versions.get("git_revision"),
    )
