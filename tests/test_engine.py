"""The engine on real parts: a replayed model, the sandboxed interpreter, the grader, SQLite."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from verimath.adaptive import AdaptivePolicy
from verimath.config import SolveOptions
from verimath.datasets import Problem
from verimath.engine import Engine, LocalExecutor, Progress
from verimath.errors import ModelError
from verimath.grading import Grader, Status
from verimath.interpreter import Interpreter
from verimath.models import resolve_model
from verimath.store import RunStore
from verimath.trajectory import Trajectory
from verimath.voting import PLAIN_WEIGHTS

SIX = "What is 2 times 3?"
TEN = "What is 7 plus 3?"
RECORDING = [
    (SIX, ["```python\nprint(2 * 3)\n```", "So the answer is \\boxed{6}."]),
    (SIX, ["It is \\boxed{5}."]),
    (SIX, ["```python\nprint(6)\n```", "\\boxed{6}"]),
    (TEN, ["```python\nprint(7 + 3)\n```", "\\boxed{10}"]),
    (TEN, ["\\boxed{10}"]),
    (TEN, ["\\boxed{10}"]),
]
PROBLEMS = [Problem("six", SIX, "6", "gsm8k"), Problem("ten", TEN, "10", "gsm8k")]


@pytest.fixture(scope="module")
def replay_spec(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("replay") / "replay.jsonl"
    path.write_text("".join(json.dumps({"problem": q, "turns": t}) + "\n" for q, t in RECORDING))
    return f"replay:{path}"


class CountingExecutor:
    """The local executor, counting what it runs and failing the samples it is told to."""

    def __init__(self, inner: LocalExecutor, fail: set[tuple[str, int]] | None = None) -> None:
        self.inner = inner
        self.parallelism = inner.parallelism
        self.model_name = inner.model_name
        self.ran: list[tuple[str, int]] = []
        self.fail = fail or set()

    @property
    def cache_hits(self) -> int:
        return self.inner.cache_hits

    async def execute(self, problem: Problem, index: int) -> tuple[Trajectory, Status]:
        self.ran.append((problem.id, index))
        if (problem.id, index) in self.fail:
            raise ModelError(f"no answer for sample {index}")
        return await self.inner.execute(problem, index)

    async def endpoint_stats(self) -> list:
        return await self.inner.endpoint_stats()

    def describe(self) -> str | None:
        return self.inner.describe()


def run(
    spec: str, path: Path, options: SolveOptions, fail: set[tuple[str, int]] | None = None
) -> tuple[Progress, CountingExecutor]:
    async def go() -> tuple[Progress, CountingExecutor]:
        model = resolve_model(spec)
        with Interpreter() as interpreter, Grader() as grader, RunStore(path) as store:
            store.bind_config({"samples": options.samples}, {})
            store.add_problems(PROBLEMS)
            local = LocalExecutor(model, interpreter, grader, options, store=None, concurrency=4)
            executor = CountingExecutor(local, fail)
            updates: list[int] = []
            engine = Engine(
                executor,
                grader,
                store,
                options,
                on_progress=lambda p: updates.append(p.samples_done),
            )
            progress = await engine.run(PROBLEMS)
            assert updates and updates[-1] == progress.samples_done
            return progress, executor

    return asyncio.run(go())


def test_every_sample_is_stored_and_every_problem_voted(replay_spec: str, tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    progress, executor = run(replay_spec, path, SolveOptions(samples=3))
    assert sorted(executor.ran) == [(p.id, i) for p in PROBLEMS for i in range(3)]
    assert (progress.samples_done, progress.problems_done) == (6, 2)
    assert (progress.sample_correct, progress.voted_correct) == (5, 2)
    with RunStore.read(path) as store:
        votes = {v.problem_id: v for v in store.votes()}
        assert votes["six"].answer == "6" and votes["six"].grade is Status.CORRECT
        assert [c.samples for c in votes["six"].classes] == [(0, 2), (1,)]
        assert votes["ten"].samples_used == 3
        cells = store.cells("six", 0)
        assert [(c.code, c.output.strip(), c.status) for c in cells] == [
            ("print(2 * 3)", "6", "ok")
        ]


def test_a_second_run_resumes_without_running_anything(replay_spec: str, tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    first, _ = run(replay_spec, path, SolveOptions(samples=3))
    again, executor = run(replay_spec, path, SolveOptions(samples=3))
    assert executor.ran == []
    assert (again.samples_done, again.voted_correct) == (first.samples_done, first.voted_correct)


def test_a_failed_sample_is_recorded_and_its_problem_left_unvoted(
    replay_spec: str, tmp_path: Path
) -> None:
    path = tmp_path / "run.sqlite"
    progress, _ = run(replay_spec, path, SolveOptions(samples=3), fail={("ten", 1)})
    assert progress.failures == 1 and progress.problems_done == 1
    with RunStore.read(path) as store:
        assert [v.problem_id for v in store.votes()] == ["six"]
        assert [(f.problem_id, f.sample_index) for f in store.failures()] == [("ten", 1)]
    resumed, executor = run(replay_spec, path, SolveOptions(samples=3))
    assert executor.ran == [("ten", 1)]
    assert resumed.problems_done == 2


def test_adaptive_waves_stop_once_the_vote_is_settled(replay_spec: str, tmp_path: Path) -> None:
    policy = AdaptivePolicy("exact", wave=1)
    options = SolveOptions(samples=3, weights=PLAIN_WEIGHTS, adaptive=policy)
    progress, executor = run(replay_spec, tmp_path / "run.sqlite", options)
    # "ten": two agreeing votes of three already decide it; "six" (6, then 5) needs all three
    assert sorted(executor.ran) == [("six", 0), ("six", 1), ("six", 2), ("ten", 0), ("ten", 1)]
    assert progress.samples_total == 5 and progress.problems_done == 2
