"""The shapes of the numbers behind a report's sections (``Section.data``).

They are TypedDicts because they are the ``data`` of each section in ``report.json`` as
written, and the plots draw from them; the keys of the outer mappings are run labels.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

__all__ = [
    "AccuracyData",
    "AccuracyRow",
    "BucketCount",
    "CodeUsageData",
    "CostFigures",
    "CurvePoint",
    "Distribution",
    "EstimateDict",
    "GroupFigures",
    "SpendFigures",
    "VerificationFigures",
    "VotingCurves",
]


class EstimateDict(TypedDict):
    """A bootstrap estimate (None where it is undefined, e.g. no problems)."""

    value: float | None
    low: float | None
    high: float | None
    n: int
    count: float


class AccuracyRow(TypedDict):
    """One row of the accuracy table: a run's single samples or its vote."""

    label: str
    short: str
    """The label as the plot shows it (a voted row: what follows the run's label)."""
    kind: str
    """``samples`` or ``voted``; ``samples_uncut`` and ``voted_uncut`` for the same rows
    without the run's cut samples."""
    run: str
    overall: EstimateDict
    subjects: dict[str, EstimateDict]
    levels: dict[str, EstimateDict]


class AccuracyData(TypedDict):
    rows: list[AccuracyRow]


class BucketCount(TypedDict):
    samples: int
    correct: int


class Distribution(TypedDict):
    """One run's samples by Code Usage Frequency bucket."""

    samples: int
    mean: float | None
    buckets: dict[str, BucketCount]


class GroupFigures(TypedDict):
    """One group of problems (a level, a subject) of a run."""

    samples: int
    accuracy: float
    mean_code: float


class CodeUsageData(TypedDict):
    buckets: list[str]
    distribution: dict[str, Distribution]
    by_level: dict[str, dict[str, GroupFigures]]
    by_subject: dict[str, dict[str, GroupFigures]]


class VerificationFigures(TypedDict):
    """One run's verification states against grades, and the scores read off them."""

    counts: dict[str, dict[str, int]]
    """Samples by state, then by grade."""
    precision: EstimateDict
    recall: EstimateDict
    false_detects_wrong: EstimateDict
    share_true: EstimateDict
    share_false: EstimateDict


class CurvePoint(TypedDict):
    k: int
    weighted: float
    plain: float
    pass_at_k: float
    exact: bool
    """Whether every k-subset was voted on (else ``subsets`` random ones)."""
    subsets: int


class VotingCurves(TypedDict):
    problems: int
    unanimous: int
    skipped: int
    weights: str
    points: list[CurvePoint]


class CostFigures(TypedDict):
    """One run's tokens, cost and latency; a run without samples has the counts only."""

    problems: int
    samples: int
    prompt_tokens: NotRequired[float]
    completion_tokens: NotRequired[float]
    cost: NotRequired[float | None]
    total_cost: NotRequired[float | None]
    turns: NotRequired[float]
    latency_mean: NotRequired[float]
    latency_median: NotRequired[float]
    latency_p90: NotRequired[float]
    model_time: NotRequired[float]
    code_time: NotRequired[float]
    problem_time: NotRequired[float]


class SpendFigures(TypedDict):
    """One run's samples spent per voted problem; a run without votes has no mean."""

    adaptive: str
    k: int
    problems: int
    mean: NotRequired[float]
    saved: NotRequired[float]
    accuracy: NotRequired[float]
    by_spent: dict[int, tuple[float, int]]
    """Samples spent -> (voted accuracy, problems)."""
