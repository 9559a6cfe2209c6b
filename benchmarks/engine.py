"""Engine benchmark: throughput of replayed real code, latency hiding, and flat memory.

Measured in one run and printed side by side:

1. replay of the 1,179 MathCoder MATH transcripts (real recorded code, re-executed in the
   sandbox, graded, stored): trajectories per second, against the 60/s target;
2. a simulated model answering every call after 1 s, at concurrency 64, on 500 problems x 4
   samples (two model calls per sample, one code cell between them): wall time against the
   model-bound ideal (calls x 1 s / 64), target within 10%;
3. 20,000 samples of a zero-latency simulated model in one run: resident memory of this
   process after 2,000 and after 20,000 samples (flat means the engine keeps nothing per
   sample in memory).

Usage: python benchmarks/engine.py [--only replay|latency|memory ...]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from verimath.datasets import Problem
from verimath.engine import Engine
from verimath.grading import Grader
from verimath.interpreter import Interpreter
from verimath.models import ChatModel, Completion, GenerateConfig, Message, Usage, resolve_model
from verimath.solver import SolveOptions
from verimath.store import RunStore

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MATHCODER_MATH = SHARED / "transcripts/mathcoder/MathCoder-L-7b/MATH"


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
) -> float:
    with Interpreter() as interpreter, Grader() as grader, RunStore(store_path) as store:
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
    model = resolve_model(f"replay:{MATHCODER_MATH}")
    problems = [
        Problem(id=p.id, question=p.question, answer=p.gold_answer or "", dataset="math")
        for p in model.problems
    ]  # type: ignore[attr-defined]
    seconds = asyncio.run(
        run_engine(model, problems, 1, 16, workdir / "replay.sqlite", cache=False)
    )
    rate = len(problems) / seconds
    return [
        f"replay {len(problems)} MathCoder MATH transcripts: {seconds:.1f} s, "
        f"{rate:.1f} trajectories/s (target >= 60/s: {'met' if rate >= 60 else 'MISSED'})"
    ]


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


SECTIONS = {"replay": replay_benchmark, "latency": latency_benchmark, "memory": memory_benchmark}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(SECTIONS), default=list(SECTIONS))
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory(prefix="verimath-bench-") as tmp:
        for name in args.only:
            lines += SECTIONS[name](Path(tmp))
            print(lines[-1], flush=True)
    print("\nsummary:")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
