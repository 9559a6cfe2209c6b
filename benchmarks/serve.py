"""``verimath serve`` benchmark: cells/s and latency over HTTP against the in-process
interpreter, measured side by side in one run on this machine.

1. HTTP overhead per cell at concurrency 1: a trivial cell run alternately in an in-process
   session and through a real server on 127.0.0.1 (``RemoteInterpreter``), so that both see the
   same load; printed: p50 of each and of the paired differences, and the CPU time HTTP adds per
   cell (client + server process, less the in-process host's), which a loaded machine does not
   inflate.
2. Throughput: for a trivial cell and a SymPy cell, at 1, 16, 64 and 256 concurrent clients
   (each its own session, cells one after another): cells/s and per-cell latency p50/p99,
   in process (``Session.arun`` with the server's number of cell slots) and over HTTP. The
   server has room for 300 sessions but only 64 queued cells, so 256 clients overload it: the
   point is that overload is answered 429 and waited out (the client backs off), with no 5xx
   and no lost cell.

Usage: python benchmarks/serve.py [--cells N] [--concurrency 1,16,64,256]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from verimath.cputime import process_cpu_s
from verimath.errors import SandboxUnavailableError
from verimath.interpreter import Interpreter, NotebookSession, RemoteInterpreter
from verimath.serve.config import default_cell_slots

CELLS = {"trivial": "x = 1\nx + 1", "sympy": "sympy.factor(sympy.Symbol('t') ** 24 - 1)"}
TOKEN = "benchmark-token-0123456789"
SERVER_FLAGS = ("--max-sessions", "300", "--max-queued", "64")


@dataclass
class Measure:
    """One configuration's outcome, as the clients saw it."""

    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def row(self) -> tuple[float, float, float]:
        """cells/s, p50 ms, p99 ms."""
        ordered = sorted(self.latencies) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return self.ok / self.seconds, statistics.median(ordered) * 1000, p99 * 1000


class Slotted:
    """An in-process session whose cells wait for one of ``slots``, as the server's do."""

    def __init__(self, interp: Interpreter, slots: asyncio.Semaphore) -> None:
        self.session, self.slots = interp.session(), slots

    async def arun(self, code: str) -> object:
        async with self.slots:
            return await self.session.arun(code)

    def close(self) -> None:
        self.session.close()


async def one_client(session: NotebookSession | Slotted, code: str, n: int, into: Measure) -> None:
    for _ in range(n):
        started = time.perf_counter()
        try:
            result = await session.arun(code)
        except SandboxUnavailableError:
            into.failed += 1
            continue
        into.latencies.append(time.perf_counter() - started)
        into.ok += getattr(result, "ok", False)


async def drive(sessions: list[NotebookSession] | list[Slotted], code: str, n: int) -> Measure:
    """Every session runs a warm-up cell, then ``n`` timed cells one after another."""
    measure = Measure()
    await asyncio.gather(*(s.arun("import sympy") for s in sessions))
    started = time.perf_counter()
    await asyncio.gather(*(one_client(s, code, n, measure) for s in sessions))
    measure.seconds = time.perf_counter() - started
    for s in sessions:
        s.close()
    return measure


async def local_run(interp: Interpreter, code: str, clients: int, n: int) -> Measure:
    slots = asyncio.Semaphore(default_cell_slots())
    return await drive([Slotted(interp, slots) for _ in range(clients)], code, n)


async def remote_run(url: str, code: str, clients: int, n: int) -> Measure:
    async with RemoteInterpreter(url, token=TOKEN) as remote:
        measure = await drive([remote.session() for _ in range(clients)], code, n)
        await asyncio.sleep(0.2)  # let the closing requests go out
    return measure


async def overhead(interp: Interpreter, url: str, pid: int, n: int) -> dict[str, float]:
    """Alternating local and HTTP trivial cells at concurrency 1; then CPU per cell of each."""
    code = CELLS["trivial"]
    async with RemoteInterpreter(url, token=TOKEN) as remote:
        with interp.session() as local, remote.session() as far:
            await asyncio.gather(local.arun(code), far.arun(code))
            pairs = [(await _timed(local, code), await _timed(far, code)) for _ in range(n)]
            cpu_local = await _cpu_per_cell(local, code, n, None)
            cpu_http = await _cpu_per_cell(far, code, n, pid)
    ms = [(a * 1000, b * 1000) for a, b in pairs]
    return {
        "local_p50_ms": statistics.median(a for a, _ in ms),
        "http_p50_ms": statistics.median(b for _, b in ms),
        "paired_difference_p50_ms": statistics.median(b - a for a, b in ms),
        "cpu_added_per_cell_ms": (cpu_http - cpu_local) * 1000,
    }


async def _timed(session: NotebookSession, code: str) -> float:
    started = time.perf_counter()
    await session.arun(code)
    return time.perf_counter() - started


async def _cpu_per_cell(session: NotebookSession, code: str, n: int, server: int | None) -> float:
    """CPU seconds per cell of this process, plus the server process's when given."""

    def now() -> float:
        return time.process_time() + (process_cpu_s(server) if server else 0.0)

    before = now()
    for _ in range(n):
        await session.arun(code)
    return (now() - before) / n


def start_server(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    command = [sys.executable, "-m", "verimath", "serve", "--port", "0", "--token", TOKEN]
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [*command, *SERVER_FLAGS], stdout=output, stderr=subprocess.STDOUT
        )
    while not (found := re.search(r"on (http://\S+)", log.read_text())):
        if process.poll() is not None:
            raise SystemExit(log.read_text())
        time.sleep(0.05)
    url = found.group(1)
    while True:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)


def server_counter(url: str, prefix: str) -> float:
    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


def throughput(
    interp: Interpreter, url: str, levels: list[int], cells: int
) -> list[tuple[str, int, Measure, Measure, int]]:
    rows = []
    for kind, code in CELLS.items():
        for clients in levels:
            n = max(2, cells // clients)
            local = asyncio.run(local_run(interp, code, clients, n))
            remote = asyncio.run(remote_run(url, code, clients, n))
            rows.append((kind, clients, local, remote, clients * n - remote.ok))
    return rows


def print_table(rows: list[tuple[str, int, Measure, Measure, int]]) -> None:
    print(
        f"{'cell':8} {'clients':>7} | {'in-process cells/s':>18} {'p50 ms':>8} {'p99 ms':>8} |"
        f" {'HTTP cells/s':>12} {'p50 ms':>8} {'p99 ms':>8} | {'failed':>6} {'lost':>4}"
    )
    for kind, clients, local, remote, lost in rows:
        (lr, l50, l99), (rr, r50, r99) = local.row(), remote.row()
        print(
            f"{kind:8} {clients:7d} | {lr:18.1f} {l50:8.2f} {l99:8.2f} |"
            f" {rr:12.1f} {r50:8.2f} {r99:8.2f} | {remote.failed:6d} {lost:4d}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=400, help="timed cells per configuration")
    parser.add_argument("--concurrency", default="1,16,64,256")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    process, url = start_server(Path(tempfile.mkdtemp()) / "serve.log")
    try:
        with Interpreter() as interp:
            cost = asyncio.run(overhead(interp, url, process.pid, args.cells))
            rows = throughput(interp, url, levels, args.cells)
        rejected = server_counter(url, 'verimath_rejections_total{kind="overloaded"}')
        infra = server_counter(url, "verimath_failures_total")
    finally:
        process.terminate()
        process.wait()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print_table(rows)
    summary = {
        **{k: round(v, 3) for k, v in cost.items()},
        "failed_or_5xx": sum(r[3].failed for r in rows),
        "lost_cells": sum(r[4] for r in rows),
        "server_429s": int(rejected),
        "server_infra_failures": int(infra),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
