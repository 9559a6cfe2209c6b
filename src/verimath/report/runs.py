"""A finished (or running) run read from its store, in the shape reports need.

Only samples with ``sample_index < samples`` (the run's k) count, as in the engine. Per-sample
extras the store keeps in other tables (cell statuses, turn count, model and code time) are
read with one aggregate query each, not per sample.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from verimath.run_records import (
    FailureRecord,
    ProblemRecord,
    RecordedConfig,
    SampleRecord,
    SampleStats,
    Versions,
    VoteRecord,
)
from verimath.store import RunStore
from verimath.voting import Weights

__all__ = ["ProblemRow", "Run", "SampleRow", "load_run"]

ProblemRow = ProblemRecord
"""One problem of the run, in run order (``position`` counts from 0 in that order)."""


@dataclass(frozen=True)
class SampleRow(SampleRecord):
    """One stored sample with the figures the store adds up from its turns and cells."""

    stats: SampleStats = field(default_factory=SampleStats)


@dataclass(frozen=True)
class Run:
    """Everything a report reads from one run file."""

    path: Path
    config: RecordedConfig
    versions: Versions
    problems: tuple[ProblemRow, ...]
    samples: dict[str, tuple[SampleRow, ...]]
    """By problem id, in sample order; problems without samples are absent."""
    votes: dict[str, VoteRecord]
    failures: tuple[FailureRecord, ...]
    missing: int = 0
    """Samples still missing after a failure (a rerun retries them)."""
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
    """Read a run file; StoreError if it is missing or not a verimath run."""
    path = Path(path)
    with RunStore.read(path) as store:
        config = store.config()
        k = int(config.get("samples", 1))
        problems = tuple(dataclasses.replace(p, position=i) for i, p in enumerate(store.problems()))
        return Run(
            path=path,
            config=config,
            versions=store.versions(),
            problems=problems,
            samples=_samples(store, k),
            votes={v.problem_id: v for v in store.votes()},
            failures=tuple(store.failures()),
            missing=sum(1 for _, index, _, _ in store.missing_failures() if index < k),
        )


def _samples(store: RunStore, k: int) -> dict[str, tuple[SampleRow, ...]]:
    stats = store.sample_stats()
    by_problem: dict[str, list[SampleRow]] = defaultdict(list)
    for s in store.samples(below=k):
        extra = stats.get((s.problem_id, s.sample_index), SampleStats())
        by_problem[s.problem_id].append(SampleRow(**vars(s), stats=extra))
    return {problem_id: tuple(rows) for problem_id, rows in by_problem.items()}
