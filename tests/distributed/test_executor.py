"""RayExecutor through the Engine API: workers killed and nodes lost mid-run lose nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from verimath.datasets import Problem, load_dataset, select
from verimath.distributed import RayExecutor, import_ray, ray_executor, ray_runtime
from verimath.engine import Engine
from verimath.errors import ConfigError, InputError
from verimath.evaluation import restrict_to_recording
from verimath.grading import Grader
from verimath.models import resolve_model
from verimath.solver import SolveOptions, solver_parts
from verimath.store import RunStore

OPTIONS = SolveOptions(samples=2)
SAMPLES = "SELECT problem_id, sample_index, answer, state, grade, code_executions FROM samples"
VOTES = "SELECT * FROM votes ORDER BY 1"


def rows(run: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(run) as db:
        return sorted(db.execute(query).fetchall())


@pytest.fixture(scope="module")
def problems(replay_spec: str) -> list[Problem]:
    recorded, _ = restrict_to_recording(
        resolve_model(replay_spec), select(load_dataset("gsm8k"), limit=120)
    )
    return recorded


@pytest.fixture(scope="module")
def reference(
    replay_spec: str, problems: list[Problem], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The same run on the plain engine."""
    path = tmp_path_factory.mktemp("plain") / "plain.sqlite"

    async def plain() -> None:
        async with solver_parts(replay_spec) as (model, interpreter, grader):
            with RunStore(path) as store:
                store.add_problems(problems)
                engine = Engine.local(model, interpreter, grader, store, OPTIONS, cache=False)
                await engine.run(problems)

    asyncio.run(plain())
    return path


async def run_on_ray(
    spec: str,
    problems: list[Problem],
    path: Path,
    during: Callable[[Engine, RayExecutor], Awaitable[None]],
    **settings: Any,
) -> RayExecutor:
    """Run with ``during(engine, executor)`` going on beside; the executor, closed."""
    with RunStore(path) as store, Grader() as grader:
        store.add_problems(problems)
        async with ray_executor(spec, OPTIONS, **settings) as executor:
            engine = Engine(executor, grader, store, OPTIONS)
            side = asyncio.create_task(during(engine, executor))
            await engine.run(problems)
            await side
            return executor


def wait_until_gone(node_id: str) -> None:
    """Until Ray has declared the node dead (and told the driver, which prints it)."""
    ray = import_ray()
    deadline = time.monotonic() + 120
    while any(n["NodeID"] == node_id and n["Alive"] for n in ray.nodes()):
        assert time.monotonic() < deadline, "Ray never noticed the node was gone"
        time.sleep(0.2)
    time.sleep(1.0)


async def when_stored(engine: Engine, samples: int) -> None:
    while engine.progress.samples_done < samples:
        await asyncio.sleep(0.005)


async def test_a_killed_worker_loses_no_sample(
    ray_cluster: Any, replay_spec: str, problems: list[Problem], reference: Path, tmp_path: Path
) -> None:
    ray = import_ray()
    seen: dict[str, Any] = {}

    async def kill_one(engine: Engine, executor: RayExecutor) -> None:
        await when_stored(engine, 60)
        victim = executor.workers[0]
        seen["in_flight"] = victim.in_flight
        seen["pid"] = victim.info.pid if victim.info else None
        ray.kill(victim.handle, no_restart=False)
        await when_stored(engine, 2 * len(problems))
        assert victim.recovery is not None
        await asyncio.wait_for(victim.recovery, 120)  # replaced by a new actor
        seen["new_pid"] = victim.info.pid if victim.info else None

    run = tmp_path / "ray.sqlite"
    executor = await run_on_ray(replay_spec, problems, run, kill_one, workers=2, cpus_per_worker=1)
    assert seen["in_flight"] > 0, "the worker must die with samples in flight"
    assert executor.reruns >= seen["in_flight"]
    assert seen["new_pid"] != seen["pid"]
    assert executor.workers[0].alive and executor.workers[0].deaths == 1
    assert rows(run, SAMPLES) == rows(reference, SAMPLES)
    assert rows(run, VOTES) == rows(reference, VOTES)


@pytest.mark.slow
async def test_a_lost_node_loses_no_sample(
    ray_cluster: Any, replay_spec: str, problems: list[Problem], reference: Path, tmp_path: Path
) -> None:
    node = ray_cluster.add_node(num_cpus=1)
    ray_cluster.wait_for_nodes()
    seen: dict[str, Any] = {}

    async def lose_the_node(engine: Engine, executor: RayExecutor) -> None:
        await when_stored(engine, 50)
        there = [w for w in executor.workers if w.info and w.info.node_id == node.node_id]
        seen["workers_there"] = len(there)
        seen["in_flight"] = sum(w.in_flight for w in there)
        ray_cluster.remove_node(node, allow_graceful=False)
        await asyncio.to_thread(wait_until_gone, node.node_id)

    run = tmp_path / "ray.sqlite"
    # three single-CPU workers fill the head (2 CPUs) and the extra node (1 CPU)
    executor = await run_on_ray(
        replay_spec, problems, run, lose_the_node, workers=3, cpus_per_worker=1
    )
    assert seen["workers_there"] == 1
    assert seen["in_flight"] > 0
    assert executor.reruns >= seen["in_flight"]
    assert sum(w.deaths for w in executor.workers) == 1
    assert rows(run, SAMPLES) == rows(reference, SAMPLES)
    assert rows(run, VOTES) == rows(reference, VOTES)


async def test_a_worker_that_cannot_start_is_a_clear_error(ray_cluster: Any) -> None:
    with pytest.raises(InputError, match="/no/such/recording"):
        async with ray_executor("replay:/no/such/recording", OPTIONS, workers=1):
            pass


def test_an_initialised_runtime_is_reused_and_left_running(ray_cluster: Any) -> None:
    ray = import_ray()
    with ray_runtime("local"):
        assert ray.is_initialized()
    assert ray.is_initialized()


def test_without_ray_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"pip install 'verimath\[ray\]'"):
        import_ray()
