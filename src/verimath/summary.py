"""Headline figures of a run, computed from its store (so resumed runs count everything)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verimath.grading import Status
from verimath.run_records import ProblemRecord, SampleRecord, VoteRecord
from verimath.store import RunStore
from verimath.tally import uncut_vote_grade
from verimath.voting import DEFAULT_WEIGHTS, Weights


@dataclass(frozen=True)
class Breakdown:
    """Accuracy of one group of problems (a subject, a level, or all)."""

    name: str
    problems: int
    voted: float
    plain_voted: float
    sample_accuracy: float


@dataclass(frozen=True)
class RunSummary:
    """What ``verimath eval`` prints at the end."""

    problems: int
    problems_voted: int
    samples: int
    accuracy: float
    """Of the weighted-voted answers, over voted problems."""
    plain_accuracy: float
    sample_accuracy: float
    """Mean over samples: the single-sample accuracy."""
    code_usage_mean: float
    states: dict[str, int]
    grades: dict[str, int]
    stop_reasons: dict[str, int]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    failures: int
    """Failed sample attempts recorded, including those retried with success since."""
    missing: dict[str, int] = field(default_factory=dict)
    """Samples still missing after a failure, by the kind of their last failure."""
    missing_errors: dict[str, str] = field(default_factory=dict)
    """The last message of each kind in ``missing``."""
    by_subject: list[Breakdown] = field(default_factory=list)
    by_level: list[Breakdown] = field(default_factory=list)
    cut: dict[str, int] = field(default_factory=dict)
    """Samples cut short rather than ended by a final answer, by stop reason (``context``,
    ``length``, ``token_budget``, ``max_turns``, ...): graded on what they have."""
    uncut_accuracy: float | None = None
    """The weighted vote's accuracy had the cut samples been left out (over the problems that
    keep a sample); None when no sample was cut, or all were."""
    uncut_sample_accuracy: float | None = None
    """Single-sample accuracy over the samples that were not cut; None when no sample was cut,
    or all were."""

    @property
    def cut_samples(self) -> int:
        return sum(self.cut.values())

    @property
    def incomplete(self) -> bool:
        """Whether problems are left unvoted (their samples failed): a rerun retries them."""
        return self.problems_voted < self.problems or bool(self.missing)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["by_subject"] = [b.__dict__ for b in self.by_subject]
        data["by_level"] = [b.__dict__ for b in self.by_level]
        return data


def summarize(store: RunStore, k: int | None = None) -> RunSummary:
    """The summary of everything stored so far (failures of samples ``< k`` only, if given)."""
    problems = store.problems()
    missing = [f for f in store.missing_failures() if k is None or f[1] < k]
    samples = store.samples()
    votes = {v.problem_id: v for v in store.votes()}
    costs = [s.cost_usd for s in samples]
    return RunSummary(
        problems=len(problems),
        problems_voted=len(votes),
        samples=len(samples),
        accuracy=_mean(v.correct for v in votes.values()),
        plain_accuracy=_mean(v.plain_correct for v in votes.values()),
        sample_accuracy=_mean(s.correct for s in samples),
        code_usage_mean=_mean(s.code_executions for s in samples),
        states=_counts(s.state for s in samples),
        grades=_counts(s.grade for s in samples),
        stop_reasons=_counts(s.stop_reason for s in samples),
        prompt_tokens=sum(s.prompt_tokens for s in samples),
        completion_tokens=sum(s.completion_tokens for s in samples),
        cost_usd=None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
        failures=store.counts()["failures"],
        missing=dict(Counter(kind for _, _, kind, _ in missing)),
        missing_errors={kind: error for _, _, kind, error in missing},
        by_subject=_breakdowns(problems, samples, votes, lambda p: p.subject),
        by_level=_breakdowns(problems, samples, votes, lambda p: p.level),
        **_uncut(store, samples, votes),
    )


def _uncut(
    store: RunStore, samples: Sequence[SampleRecord], votes: Mapping[str, VoteRecord]
) -> dict[str, Any]:
    """The cut samples by stop reason, and the accuracies without them (none cut: as is)."""
    cut = [s for s in samples if s.cut]
    if not cut:
        return {}
    weights = Weights.parse(str(store.config().get("weights", DEFAULT_WEIGHTS.spec())))
    by_problem: dict[str, list[SampleRecord]] = defaultdict(list)
    for sample in samples:
        by_problem[sample.problem_id].append(sample)
    grades = [uncut_vote_grade(v, by_problem[pid], weights) for pid, v in votes.items()]
    return {
        "cut": _counts(s.stop_reason for s in cut),
        "uncut_accuracy": _mean_or_none([g is Status.CORRECT for g in grades if g is not None]),
        "uncut_sample_accuracy": _mean_or_none([s.correct for s in samples if not s.cut]),
    }


def _mean_or_none(values: Sequence[bool]) -> float | None:
    """The mean, or None of nothing (every sample was cut: there is no such accuracy)."""
    return _mean(values) if values else None


def _counts(values: Iterable[str]) -> dict[str, int]:
    """How often each value occurs, in order of first occurrence, keyed by its text."""
    return {str(key): count for key, count in Counter(values).items()}


def _mean(values: Iterable[float]) -> float:
    items = [float(v) for v in values]
    return sum(items) / len(items) if items else 0.0


def _breakdowns(
    problems: Sequence[ProblemRecord],
    samples: Sequence[SampleRecord],
    votes: Mapping[str, VoteRecord],
    key: Callable[[ProblemRecord], str | int | None],
) -> list[Breakdown]:
    groups: dict[str | int, list[str]] = defaultdict(list)
    for problem in problems:
        if (name := key(problem)) is not None:
            groups[name].append(problem.problem_id)
    by_problem: dict[str, list[SampleRecord]] = defaultdict(list)
    for sample in samples:
        by_problem[sample.problem_id].append(sample)
    rows = []
    for name in sorted(groups, key=str):
        ids = [i for i in groups[name] if i in votes]
        if not ids:
            continue
        rows.append(
            Breakdown(
                str(name),
                len(ids),
                _mean(votes[i].correct for i in ids),
                _mean(votes[i].plain_correct for i in ids),
                _mean(s.correct for i in ids for s in by_problem[i]),
            )
        )
    return rows
