"""The end-of-run summary, computed from a real run store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_store import PROBLEMS, trajectory
from verimath.datasets import Problem
from verimath.grading import Status
from verimath.run_records import VoteRecord
from verimath.store import RunStore
from verimath.summary import Breakdown, summarize
from verimath.verification import VerificationState

TRUE, UNCERTAIN, FALSE = (
    VerificationState.TRUE,
    VerificationState.UNCERTAIN,
    VerificationState.FALSE,
)


def test_an_empty_run_sums_to_zero(tmp_path: Path) -> None:
    with RunStore(tmp_path / "run.sqlite") as store:
        summary = summarize(store)
    assert (summary.problems, summary.samples, summary.accuracy) == (0, 0, 0.0)
    assert summary.cost_usd == 0
    assert summary.by_subject == [] and summary.by_level == []


def test_accuracies_counts_and_breakdowns(tmp_path: Path) -> None:
    problems = [*PROBLEMS, Problem("p2", "Unvoted", "1", "math", subject="Algebra", level=5)]
    with RunStore(tmp_path / "run.sqlite") as store:
        store.add_problems(problems)
        store.add_sample("p1", 0, trajectory("2", TRUE), Status.CORRECT)
        store.add_sample("p1", 1, trajectory("3", FALSE), Status.INCORRECT)
        store.add_sample("p0", 0, trajectory(None, UNCERTAIN), Status.UNPARSEABLE)
        store.add_sample("p2", 0, trajectory("1", TRUE), Status.CORRECT)
        store.set_vote(VoteRecord("p1", "2", Status.CORRECT, "2", Status.CORRECT, 2, ()))
        store.set_vote(VoteRecord("p0", None, Status.UNPARSEABLE, "3", Status.CORRECT, 1, ()))
        store.add_failure("p2", 1, "the server went away")
        summary = summarize(store)
    assert (summary.problems, summary.problems_voted, summary.samples) == (3, 2, 4)
    assert summary.accuracy == 0.5
    assert summary.plain_accuracy == 1.0
    assert summary.sample_accuracy == 0.5
    assert summary.states == {"True": 2, "False": 1, "Uncertain": 1}
    assert summary.grades == {"correct": 2, "incorrect": 1, "unparseable": 1}
    assert all(type(key) is str for key in summary.states)
    assert summary.stop_reasons == {"answer": 4}
    assert (summary.prompt_tokens, summary.completion_tokens) == (88, 32)
    assert summary.cost_usd == pytest.approx(0.012)
    assert summary.failures == 1
    # p2 has no vote yet: it counts in no breakdown
    assert summary.by_subject == [Breakdown("Algebra", 1, 0.0, 1.0, 0.0)]
    assert summary.by_level == [Breakdown("2", 1, 0.0, 1.0, 0.0)]
    data = summary.to_dict()
    assert data["by_level"] == [
        {"name": "2", "problems": 1, "voted": 0.0, "plain_voted": 1.0, "sample_accuracy": 0.0}
    ]


def test_an_unknown_cost_makes_the_total_unknown(tmp_path: Path) -> None:
    with RunStore(tmp_path / "run.sqlite") as store:
        store.add_problems(PROBLEMS)
        store.add_sample("p1", 0, trajectory("2", TRUE), Status.CORRECT)
        store._db.execute("UPDATE samples SET cost_usd = NULL")
        assert summarize(store).cost_usd is None
