"""Event-loop lag while sandbox sessions flood their output.

A ticker task sleeps 10 ms again and again on the event loop and records how late each sleep
wakes up; meanwhile N sessions run cells that write as fast as they can (64 MiB each, capped by
the host as usual) and one more session runs a trivial cell over and over. Lag is what every
other task on the loop (other sessions, the progress display) waits for.

Each configuration runs in its own process, with ``PYTHONPATH`` pointing at the verimath source
to measure: this checkout, and with ``--compare-with SRC`` another one (e.g. ``/work/main/src``)
side by side in the same run.

Everything (host, fork server, sessions) runs on ``--cores`` cores (default 2), as the figure in
the README was measured.

Usage: python benchmarks/loop_lag.py [--sessions 8] [--seconds 6] [--cores 2] [--compare-with SRC]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from verimath.interpreter import Session

OURS = Path(__file__).resolve().parents[1] / "src"
TICK_S = 0.010
FLOOD_CELL = (
    "import os, sys\nchunk = b'x' * 65536\n"
    "for i in range(512):\n    os.write(1, chunk)\n    print('y' * 65536)\n"
    "'flooded'"
)
TRIVIAL_CELL = "1 + 1"


class Measured(TypedDict):
    """One configuration's run: the ticker's lags, each flood's (status, output length) and
    how long each trivial cell of the neighbouring session took, in seconds."""

    lags: list[float]
    floods: list[tuple[str, int]]
    trivial: list[float]


async def ticker(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(TICK_S)
        lags.append(time.perf_counter() - started - TICK_S)


async def flood(session: Session, stop: asyncio.Event, results: list[tuple[str, int]]) -> None:
    while not stop.is_set():
        result = await session.arun(FLOOD_CELL)
        results.append((str(result.status), len(result.output)))


async def trivial(session: Session, stop: asyncio.Event, waits: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        result = await session.arun(TRIVIAL_CELL)
        assert result.output == "2\n", result.output
        waits.append(time.perf_counter() - started)


async def measure(flooders: int, seconds: float) -> Measured:
    """Lags of the ticker with ``flooders`` sessions flooding (runs in the child process)."""
    from verimath.interpreter import Interpreter  # from the src under measure (PYTHONPATH)

    async with Interpreter() as interp:
        sessions = [interp.session() for _ in range(flooders + 1)]
        for session in sessions:
            await session.arun("warm = True")
        stop = asyncio.Event()
        lags: list[float] = []
        floods: list[tuple[str, int]] = []
        waits: list[float] = []
        tasks = [asyncio.create_task(flood(s, stop, floods)) for s in sessions[1:]]
        tasks.append(asyncio.create_task(trivial(sessions[0], stop, waits)))
        await asyncio.sleep(0.5)  # every flooder is writing
        tick = asyncio.create_task(ticker(stop, lags))
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(tick, *tasks)
        for session in sessions:
            session.close()
    return {"lags": lags, "floods": floods, "trivial": waits}


def run_child(src: Path, flooders: int, seconds: float, cores: int) -> Measured:
    env = {**os.environ, "PYTHONPATH": str(src)}
    argv = [sys.executable, __file__, "--child", str(flooders), "--seconds", str(seconds)]
    argv += ["--cores", str(cores)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the measurement with {src} failed:\n{done.stderr}")
    result: Measured = json.loads(done.stdout.splitlines()[-1])
    return result


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def row(label: str, flooders: int, measured: Measured) -> str:
    lags = [lag * 1000 for lag in measured["lags"]]
    waits = [wait * 1000 for wait in measured["trivial"]]
    floods = measured["floods"]
    outputs = {length for _, length in floods}
    return (
        f"{label:<22} {flooders:>8} {len(lags):>6} {statistics.median(lags):>9.1f} "
        f"{percentile(lags, 0.99):>9.1f} {max(lags):>9.1f} {len(floods):>7} "
        f"{max(waits):>11.1f} {','.join(map(str, sorted(outputs))):>10}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8, help="flooding sessions")
    parser.add_argument("--seconds", type=float, default=6.0, help="ticker run per row")
    parser.add_argument("--cores", type=int, default=2, help="cores to run everything on")
    parser.add_argument("--compare-with", type=Path, help="another verimath src to measure")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))[: args.cores]
    os.sched_setaffinity(0, cores)  # inherited by the fork server and its sessions
    if args.child is not None:
        print(json.dumps(asyncio.run(measure(args.child, args.seconds))))
        return
    sources = [("this checkout", OURS)]
    if args.compare_with:
        sources.append((str(args.compare_with), args.compare_with))
    print(f"cores {cores}; ticker sleeps {TICK_S * 1000:g} ms; lag in ms")
    header = f"{'code':<22} {'flooding':>8} {'ticks':>6} {'median':>9} {'p99':>9} {'worst':>9}"
    print(header + f" {'floods':>7} {'1+1 worst':>11} {'output len':>10}")
    for flooders in (0, args.sessions):
        for label, src in sources:
            measured = run_child(src, flooders, args.seconds, args.cores)
            print(row(label[-22:], flooders, measured), flush=True)


if __name__ == "__main__":
    main()
