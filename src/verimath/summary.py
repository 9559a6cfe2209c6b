"""Headline figures of a run, computed from its store (so resumed runs count everything)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verimath.run_records import ProblemRecord, SampleRecord, VoteRecord
from verimath.store import RunStore


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
    by_subject: list[Breakdown] = field(default_factory=list)
    by_level: list[Breakdown] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["by_subject"] = [b.__dict__ for b in self.by_subject]
        data["by_level"] = [b.__dict__ for b in self.by_level]
        return data


def summarize(store: RunStore) -> RunSummary:
    """The summary of everything stored so far."""
    problems = store.problems()
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
        by_subject=_breakdowns(problems, samples, votes, lambda p: p.subject),
        by_level=_breakdowns(problems, samples, votes, lambda p: p.level),
    )


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
