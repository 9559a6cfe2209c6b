"""The engine keeps going when one sample fails, whatever the failure, and stops (saying why)
only when the run cannot go on. Samples run for real (recorded model turns, real sandbox, real
grader, real SQLite); a wrapper makes chosen samples raise, as a broken part would."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.shared import TRANSCRIPTS
from verimath.config import SolveOptions
from verimath.datasets import Problem, load_dataset, select
from verimath.engine import MAX_CONSECUTIVE_FAILURES, Engine, LocalExecutor
from verimath.errors import GradingError, RunStoppedError
from verimath.evaluation import restrict_to_recording
from verimath.grading import Status
from verimath.models import resolve_model
from verimath.models.replay import ReplayModel
from verimath.solver import solver_parts
from verimath.store import RunStore
from verimath.summary import summarize
from verimath.trajectory import Trajectory

REPLAY = f"replay:{TRANSCRIPTS / 'mathcoder' / 'MathCoder-CL-34b' / 'GSM8K'}"
OPTIONS = SolveOptions(samples=2)
HANG_GUARD_S = 120


class FailingSamples:
    """The local executor, except that the chosen samples raise the given errors."""

    def __init__(self, inner: LocalExecutor, failures: dict[tuple[str, int], Exception]) -> None:
        self.inner = inner
        self.failures = failures
        self.parallelism = inner.parallelism

    async def execute(self, problem: Problem, index: int) -> tuple[Trajectory, Status]:
        failure = self.failures.get((problem.id, index)) or self.failures.get(("*", -1))
        if failure is not None:
            raise failure
        return await self.inner.execute(problem, index)


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    model = resolve_model(REPLAY)
    assert isinstance(model, ReplayModel)
    recorded, _ = restrict_to_recording(model, select(load_dataset("gsm8k")))
    return recorded[:8]


async def _run(
    path: Path, problems: list[Problem], failures: dict[tuple[str, int], Exception]
) -> Engine:
    async with solver_parts(REPLAY) as (model, interpreter, grader):
        with RunStore(path) as store:
            store.bind_config({"samples": OPTIONS.samples}, {})
            store.add_problems(problems)
            inner = LocalExecutor(model, interpreter, grader, OPTIONS, store=None, concurrency=4)
            engine = Engine(FailingSamples(inner, failures), grader, store, OPTIONS)  # type: ignore[arg-type]
            try:
                async with asyncio.timeout(HANG_GUARD_S):
                    await engine.run(problems)
            finally:
                engine.summary = summarize(store, OPTIONS.samples)  # type: ignore[attr-defined]
    return engine


async def test_any_failure_of_one_sample_is_recorded_and_the_run_goes_on(
    tmp_path: Path, problems: list[Problem]
) -> None:
    failures: dict[tuple[str, int], Exception] = {
        (problems[0].id, 1): RuntimeError("the interpreter broke"),
        (problems[3].id, 0): GradingError("the grader broke"),
    }
    engine = await _run(tmp_path / "run.sqlite", problems, failures)
    summary = engine.summary  # type: ignore[attr-defined]
    assert engine.progress.failures == 2
    assert summary.samples == 2 * len(problems) - 2
    assert summary.problems_voted == len(problems) - 2
    assert summary.missing == {"RuntimeError": 1, "GradingError": 1}
    assert summary.missing_errors["GradingError"] == "the grader broke"
    # an unexpected error says where it rose
    assert summary.missing_errors["RuntimeError"].startswith("the interpreter broke (at ")
    assert "test_engine_failures.py" in summary.missing_errors["RuntimeError"]
    assert summary.incomplete


async def test_a_rerun_retries_exactly_the_failed_samples(
    tmp_path: Path, problems: list[Problem]
) -> None:
    path = tmp_path / "run.sqlite"
    await _run(path, problems, {(problems[2].id, 0): RuntimeError("once")})
    engine = await _run(path, problems, {})
    assert engine.progress.failures == 0
    assert engine.summary.samples == 2 * len(problems)  # type: ignore[attr-defined]
    assert not engine.summary.incomplete  # type: ignore[attr-defined]
    assert engine.summary.failures == 1  # type: ignore[attr-defined]  (kept as history)


async def test_failures_in_a_row_stop_the_run_saying_why(
    tmp_path: Path, problems: list[Problem]
) -> None:
    many = problems * 3  # enough samples to fail 20 times
    unique = [Problem(f"{p.id}-{i}", p.question, p.answer, p.dataset) for i, p in enumerate(many)]
    with pytest.raises(RunStoppedError, match="20 samples in a row failed") as stopped:
        await _run(tmp_path / "run.sqlite", unique, {("*", -1): RuntimeError("always")})
    assert "rerun the same command" in str(stopped.value)
    with RunStore.read(tmp_path / "run.sqlite") as store:
        assert len(store.missing_failures()) == MAX_CONSECUTIVE_FAILURES  # none started after


async def test_no_problem_at_all_ends_at_once(tmp_path: Path) -> None:
    engine = await _run(tmp_path / "run.sqlite", [], {})
    assert engine.progress.samples_total == 0
