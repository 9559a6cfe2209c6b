"""A finished (or running) run read from its store, in the shape reports need.

Only samples with ``sample_index < samples`` (the run's k) count, as in the engine. Per-sample
extras the store keeps in other tables (cell statuses, turn count, model and code time) are
read with one aggregate query each, not per sample.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verimath.errors import StoreError
from verimath.store import RunStore, VoteRecord, iter_rows
from verimath.voting import Weights

__all__ = ["FailureRow", "ProblemRow", "Run", "SampleRow", "load_run"]


@dataclass(frozen=True)
class ProblemRow:
    """One problem of the run, in run order."""

    problem_id: str
    position: int
    question: str
    gold: str
    dataset: str
    subject: str | None
    level: int | None


@dataclass(frozen=True)
class SampleRow:
    """One stored sample with the figures reports use."""

    problem_id: str
    index: int
    answer: str | None
    state: str
    grade: str
    code_executions: int
    code_refusals: int
    revisions: int
    stop_reason: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    duration_s: float
    turns: int = 0
    model_time_s: float = 0.0
    """Sum of the model calls' latencies."""
    code_time_s: float = 0.0
    """Sum of the cells' wall-clock durations."""
    cell_statuses: dict[str, int] = field(default_factory=dict)
    """Cells per status (ok, error, timeout, memory, killed, refused)."""

    @property
    def correct(self) -> bool:
        return self.grade == "correct"


@dataclass(frozen=True)
class FailureRow:
    """A sample attempt that failed (a model or infrastructure error), as recorded."""

    problem_id: str
    index: int
    error: str


@dataclass(frozen=True)
class Run:
    """Everything a report reads from one run file."""

    path: Path
    config: dict[str, Any]
    versions: dict[str, Any]
    problems: tuple[ProblemRow, ...]
    samples: dict[str, tuple[SampleRow, ...]]
    """By problem id, in sample order; problems without samples are absent."""
    votes: dict[str, VoteRecord]
    failures: tuple[FailureRow, ...]
    label: str = ""
    """The row label in side-by-side tables (set by :func:`verimath.report.labels.label_runs`)."""

    @property
    def strategy(self) -> str:
        return str(self.config.get("strategy", "?"))

    @property
    def model(self) -> str:
        return str(self.config.get("model", "?"))

    @property
    def dataset(self) -> str:
        return str(self.config.get("dataset", "?"))

    @property
    def k(self) -> int:
        """Samples per problem the run asked for."""
        return int(self.config.get("samples", 1))

    @property
    def weights(self) -> Weights:
        return Weights.parse(str(self.config.get("weights", "1,0.5,0.2")))

    def all_samples(self) -> list[SampleRow]:
        """Every counted sample, in problem then sample order."""
        return [s for p in self.problems for s in self.samples.get(p.problem_id, ())]


def load_run(path: str | Path) -> Run:
    """Read a run file (read-only); StoreError if it is missing, damaged or not a run."""
    path = Path(path)
    with RunStore.read(path) as store:
        config = store.meta("config")
        if not isinstance(config, dict):
            raise StoreError(
                f"{path} holds no run yet (no config recorded); pass a file written by "
                "'verimath eval'"
            )
        k = int(config.get("samples", 1))
        problems = tuple(
            ProblemRow(
                p["problem_id"], i, p["question"], p["gold"], p["dataset"], p["subject"], p["level"]
            )
            for i, p in enumerate(store.problems())
        )
        return Run(
            path=path,
            config=config,
            versions=store.meta("versions") or {},
            problems=problems,
            samples=_samples(store, k),
            votes={v.problem_id: v for v in store.votes()},
            failures=_failures(store),
        )


def _samples(store: RunStore, k: int) -> dict[str, tuple[SampleRow, ...]]:
    statuses = _cell_statuses(store)
    code_time = _sums(store, "cells", "duration_s")
    model_time = _sums(store, "turns", "COALESCE(latency_s, 0)")
    turns = _sums(store, "turns", "1")
    by_problem: dict[str, list[SampleRow]] = defaultdict(list)
    for s in store.samples():
        if s["sample_index"] >= k:
            continue
        key = (s["problem_id"], s["sample_index"])
        by_problem[s["problem_id"]].append(
            SampleRow(
                problem_id=s["problem_id"],
                index=s["sample_index"],
                answer=s["answer"],
                state=s["state"],
                grade=s["grade"],
                code_executions=s["code_executions"],
                code_refusals=s["code_refusals"],
                revisions=s["revisions"],
                stop_reason=s["stop_reason"],
                prompt_tokens=s["prompt_tokens"],
                completion_tokens=s["completion_tokens"],
                cost_usd=s["cost_usd"],
                duration_s=s["duration_s"],
                turns=int(turns.get(key, 0)),
                model_time_s=model_time.get(key, 0.0),
                code_time_s=code_time.get(key, 0.0),
                cell_statuses=statuses.get(key, {}),
            )
        )
    return {problem_id: tuple(rows) for problem_id, rows in by_problem.items()}


def _cell_statuses(store: RunStore) -> dict[tuple[str, int], dict[str, int]]:
    found: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
    query = "SELECT problem_id, sample_index, status, COUNT(*) FROM cells GROUP BY 1, 2, 3"
    for problem_id, index, status, count in iter_rows(store, query):
        found[(problem_id, index)][status] = count
    return {key: dict(counter) for key, counter in found.items()}


def _sums(store: RunStore, table: str, expression: str) -> dict[tuple[str, int], float]:
    query = f"SELECT problem_id, sample_index, SUM({expression}) FROM {table} GROUP BY 1, 2"
    return {(p, i): float(total or 0) for p, i, total in iter_rows(store, query)}


def _failures(store: RunStore) -> tuple[FailureRow, ...]:
    query = (
        "SELECT problem_id, sample_index, COALESCE(kind || ': ', '') || error FROM failures "
        "ORDER BY failed_at"
    )
    return tuple(FailureRow(p, i, e) for p, i, e in iter_rows(store, query))
