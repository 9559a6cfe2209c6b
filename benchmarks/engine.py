"""Engine benchmark: throughput of replayed real code, latency hiding, and flat memory.

Measured in one run and printed side by side:

1. replay of the 1,179 MathCoder MATH transcripts (real recorded code, re-executed in the
   sandbox, graded, stored): trajectories per second, against the 60/s target, and wall time
   against the physical limit (the cells' CPU plus one bare fork+exit of the preloaded heap per
   transcript, spread over the machine's cores);
2. a simulated model answering every call after 1 s, at concurrency 64, on 500 problems x 4
   samples (two model calls per sample, one code cell between them): wall time against the
   model-bound ideal (calls x 1 s / 64), target within 10%;
3. 20,000 samples of a zero-latency simulated model in one run: resident memory of this
   process after 2,000 and after 20,000 samples (flat means the engine keeps nothing per
   sample in memory);
4. ``--ray`` against the plain engine on the 200-problem GSM8K replay (MathCoder-CL-34b,
   k = 1) on a local Ray runtime: run time of each (median of 3, warm), the overhead against
   the 20% target, the one-off Ray start-up beside it, and whether answers, grades and votes
   are identical.

Usage: python benchmarks/engine.py [--only replay|latency|memory|ray ...]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from shared import SHARED_DATA
from spawn_cost import bare_fork
from verimath.datasets import Problem
from verimath.engine import Engine, SampleExecutor
from verimath.grading import Grader
from verimath.interpreter import Interpreter, Limits
from verimath.models import ChatModel, Completion, GenerateConfig, Message, Usage, resolve_model
from verimath.models.replay import ReplayModel
from verimath.solver import SolveOptions
from verimath.store import RunStore

SHARED = SHARED_DATA
MATHCODER_MATH = SHARED / "transcripts/mathcoder/MathCoder-L-7b/MATH"
MATHCODER_GSM8K = SHARED / "transcripts/mathcoder/MathCoder-CL-34b/GSM8K"
RAY_REPEATS = 3


class SimulatedModel(ChatModel):
    """A stand-in model for load tests: a code turn, then an answer, after a fixed latency."""

    name = "simulated"
    tool_styles = frozenset({"fenced"})

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.calls = 0

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig, *, tools: bool = False
    ) -> list[Completion]:
        self.calls += 1
        await asyncio.sleep(self.latency_s)
        turn = sum(m.role == "assistant" for m in messages)
        seed = config.seed or 0
        text = (
            f"```python\nx = {seed} * 7 + 1\nprint(x % 5)\n```"
            if turn == 0
            else f"The answer is \\boxed{{{seed % 5}}}."
        )
        return [Completion(Message("assistant", text), "stop", Usage(50, 20), self.latency_s)]


def synthetic_problems(count: int) -> list[Problem]:
    return [
        Problem(
            id=f"sim/{i}",
            question=f"Synthetic problem {i}: what is x mod 5?",
            answer=str(i % 5),
            dataset="gsm8k",
        )
        for i in range(count)
    ]


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


async def run_engine(
    model: ChatModel,
    problems: list[Problem],
    samples: int,
    concurrency: int,
    store_path: Path,
    cache: bool = True,
    limits: Limits | None = None,
) -> float:
    with Interpreter(limits) as interpreter, Grader() as grader, RunStore(store_path) as store:
        store.bind_config({"benchmark": store_path.name}, {})
        store.add_problems(problems)
        engine = Engine.local(
            model,
            interpreter,
            grader,
            store,
            SolveOptions(samples=samples),
            concurrency=concurrency,
            cache=cache,
        )
        started = time.perf_counter()
        await engine.run(problems)
        return time.perf_counter() - started


def replay_benchmark(workdir: Path) -> list[str]:
    """The recorded code at the default 10 s cell limit, and at 5 s (ToRA-style harnesses)."""
    model = ReplayModel.from_path(str(MATHCODER_MATH))
    problems = [
        Problem(id=p.id, question=p.question, answer=p.gold_answer or "", dataset="math")
        for p in model.problems
    ]
    lines = []
    fork_cpu_s = bare_fork(40)["cpu_s"]
    for limit in (Limits().timeout_s, 5.0):
        path = workdir / f"replay-{limit:g}.sqlite"
        seconds = asyncio.run(
            run_engine(model, problems, 1, 16, path, cache=False, limits=Limits(timeout_s=limit))
        )
        rate = len(problems) / seconds
        with RunStore.read(path) as store:
            cells = list(store.iter_cells())
        timed_out = sum(c.status == "timeout" for c in cells)
        timed_out_cpu = sum(c.cpu_s for c in cells if c.status == "timeout")
        all_cpu = sum(c.cpu_s for c in cells)
        floor = (all_cpu + len(problems) * fork_cpu_s) / (os.cpu_count() or 1)
        lines.append(
            f"replay {len(problems)} MathCoder MATH transcripts, cell limit {limit:g} s: "
            f"{seconds:.1f} s, {rate:.1f} trajectories/s (target >= 60/s: "
            f"{'met' if rate >= 60 else 'MISSED'}); cells used {all_cpu:.1f} CPU-s, of which "
            f"{timed_out_cpu:.1f} in {timed_out} cells that hit the limit; physical limit "
            f"(cells' CPU + one bare fork of {fork_cpu_s * 1000:.1f} ms per transcript, over "
            f"{os.cpu_count()} cores) {floor:.1f} s: wall {seconds / floor:.2f}x it"
        )
    return lines


def latency_benchmark(workdir: Path) -> list[str]:
    model = SimulatedModel(latency_s=1.0)
    problems, samples, concurrency = synthetic_problems(500), 4, 64
    seconds = asyncio.run(
        run_engine(model, problems, samples, concurrency, workdir / "latency.sqlite")
    )
    ideal = math.ceil(model.calls / concurrency) * model.latency_s
    overhead = seconds / ideal - 1
    return [
        f"simulated 1 s model, 500 x 4 samples, concurrency 64: {model.calls} calls in "
        f"{seconds:.1f} s; model-bound ideal {ideal:.1f} s; wall/ideal = "
        f"{seconds / ideal:.3f} ({overhead:+.1%}, target within 10%: "
        f"{'met' if overhead <= 0.10 else 'MISSED'})"
    ]


def memory_benchmark(workdir: Path) -> list[str]:
    model = SimulatedModel(latency_s=0.0)
    path = workdir / "memory.sqlite"
    problems = synthetic_problems(5000)
    asyncio.run(run_engine(model, problems[:500], 4, 64, path))
    at_2k = rss_mib()
    started = time.perf_counter()
    asyncio.run(run_engine(model, problems, 4, 64, path))
    at_20k = rss_mib()
    seconds = time.perf_counter() - started
    with RunStore(path) as store:
        stored = store.counts()["samples"]
    return [
        f"{stored} samples in one run ({18000 / seconds:.0f} samples/s for the last 18,000): "
        f"RSS {at_2k:.0f} MiB at 2,000 samples, {at_20k:.0f} MiB at 20,000 "
        f"({at_20k / at_2k:.2f}x)"
    ]


def gsm8k_replay_problems(spec: str, limit: int) -> list[Problem]:
    """The first ``limit`` GSM8K problems that the recording holds (as ``eval`` picks them)."""
    from verimath.datasets import load_dataset, select
    from verimath.evaluation import restrict_to_recording

    problems, _ = restrict_to_recording(
        resolve_model(spec), select(load_dataset("gsm8k"), limit=limit)
    )
    return problems


async def timed_runs(
    executor: SampleExecutor, grader: Grader, problems: list[Problem], paths: list[Path]
) -> list[float]:
    """Seconds of ``Engine.run`` into each fresh store in ``paths``, one after the other."""
    options = SolveOptions(samples=1)
    seconds = []
    for path in paths:
        with RunStore(path) as store:
            store.add_problems(problems)
            engine = Engine(executor, grader, store, options)
            started = time.perf_counter()
            await engine.run(problems)
            seconds.append(time.perf_counter() - started)
    return seconds


async def plain_runs(spec: str, problems: list[Problem], paths: list[Path]) -> list[float]:
    from verimath.engine import LocalExecutor
    from verimath.solver import solver_parts

    async with solver_parts(spec) as (model, interpreter, grader):
        executor = LocalExecutor(
            model, interpreter, grader, SolveOptions(samples=1), store=None, concurrency=16
        )
        return await timed_runs(executor, grader, problems, paths)


async def ray_runs(
    spec: str, problems: list[Problem], paths: list[Path], **settings: object
) -> tuple[float, list[float], str]:
    from verimath.distributed import ray_executor

    started = time.perf_counter()
    with Grader() as grader:
        async with ray_executor(spec, SolveOptions(samples=1), **settings) as executor:  # type: ignore[arg-type]
            startup = time.perf_counter() - started
            return startup, await timed_runs(executor, grader, problems, paths), executor.describe()


def same_results(first: Path, second: Path) -> bool:
    import sqlite3

    queries = (
        "SELECT problem_id, sample_index, answer, state, grade, code_executions FROM samples",
        "SELECT * FROM votes",
        "SELECT problem_id, sample_index, cell_index, output, status FROM cells",
    )
    with sqlite3.connect(first) as a, sqlite3.connect(second) as b:
        return all(sorted(a.execute(q)) == sorted(b.execute(q)) for q in queries)


def ray_benchmark(workdir: Path) -> list[str]:
    from verimath.distributed import ray_runtime

    spec = f"replay:{MATHCODER_GSM8K}"
    problems = gsm8k_replay_problems(spec, 200)
    plain_paths = [workdir / f"plain-{i}.sqlite" for i in range(RAY_REPEATS)]
    plain = statistics.median(asyncio.run(plain_runs(spec, problems, plain_paths)))
    started = time.perf_counter()
    with ray_runtime(None):
        runtime_s = time.perf_counter() - started
        one_paths = [workdir / f"ray-{i}.sqlite" for i in range(RAY_REPEATS)]
        startup, one, one_desc = asyncio.run(ray_runs(spec, problems, one_paths))
        two_paths = [workdir / f"ray2-{i}.sqlite" for i in range(RAY_REPEATS)]
        _, two, _ = asyncio.run(ray_runs(spec, problems, two_paths, workers=2, cpus_per_worker=1))
    on_ray = statistics.median(one)
    overhead = on_ray / plain - 1
    identical = all(same_results(plain_paths[0], p) for p in one_paths + two_paths)
    count = len(problems)
    return [
        f"--ray vs plain engine, {count}-problem GSM8K replay (MathCoder-CL-34b, k=1), median "
        f"of {RAY_REPEATS} warm runs: plain {plain:.2f} s ({count / plain:.0f} samples/s), "
        f"ray {on_ray:.2f} s ({count / on_ray:.0f} samples/s): overhead {overhead:+.1%} "
        f"(target <= 20%: {'met' if overhead <= 0.20 else 'MISSED'}); "
        f"one worker of 2 CPUs instead: {statistics.median(two):.2f} s; "
        f"answers, grades, votes identical: {'yes' if identical else 'NO'}; "
        f"one-off start-up, not in these figures: Ray runtime {runtime_s:.1f} s, workers up "
        f"{startup:.1f} s ({one_desc})"
    ]


SECTIONS = {
    "replay": replay_benchmark,
    "latency": latency_benchmark,
    "memory": memory_benchmark,
    "ray": ray_benchmark,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(SECTIONS), default=list(SECTIONS))
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory(prefix="verimath-bench-") as tmp:
        for name in args.only:
            found = SECTIONS[name](Path(tmp))
            print("\n".join(found), flush=True)
            lines += found
    print("\nsummary:")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
