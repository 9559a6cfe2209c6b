"""Session start cost against its physical limit: a bare fork+exit of the same preloaded heap.

Measured side by side in one run (``interpreter.py --only spawn`` prints it):

- fork+exit of the same heap: a process that imported and warmed up what the fork server does,
  then froze its garbage collector, forks children that exit at once; machine CPU per fork
  (parent and child) and the child's minor page faults;
- a session's machine CPU: host, fork server and session child together, per session started
  and closed (and per session that also runs one trivial cell), from the kernel's counters of
  this process and of the server (its own and its reaped children's); page faults per child
  and per spawn in the server;
- sessions per second at concurrency 1, 4 and 16 (start, one trivial cell, close);
- first-output latency: creating a session to the output of ``print(1)``, p50 and p90, without
  the pool and, when this version of verimath has one, with it.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from verimath.interpreter import Interpreter
from verimath.interpreter.launcher import NUMPY_DISPLAY_CODE, PRELOAD_MODULES, WARMUP_CODE

BARE_FORK = """
import gc, importlib, json, os, resource, sys
for name in sys.argv[1].split(","):
    importlib.import_module(name)
exec(sys.argv[2], {"__name__": "__warmup__"})
gc.freeze()
count = int(sys.argv[3])
def cpu(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime
started = cpu(resource.RUSAGE_SELF) + cpu(resource.RUSAGE_CHILDREN)
parent_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
child_faults = []
for _ in range(count):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    child_faults.append(os.wait4(pid, 0)[2].ru_minflt)
spent = cpu(resource.RUSAGE_SELF) + cpu(resource.RUSAGE_CHILDREN) - started
parent_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - parent_faults
print(json.dumps({"cpu_s": spent / count, "child_faults": sorted(child_faults)[count // 2],
                  "parent_faults": parent_faults / count}))
"""
TRIVIAL = "pass"


def bare_fork(count: int) -> dict[str, float]:
    """Machine CPU and page faults of a fork+exit of the server's heap, per fork."""
    argv = [sys.executable, "-c", BARE_FORK, ",".join(PRELOAD_MODULES)]
    argv += [NUMPY_DISPLAY_CODE + WARMUP_CODE, str(count)]
    result: dict[str, float] = json.loads(
        subprocess.run(argv, check=True, capture_output=True).stdout
    )
    return result


def _proc_counters(pid: int) -> tuple[float, int, int]:
    """CPU seconds of ``pid`` and of its reaped children, its minor faults, its children's."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks  # utime stime cutime cstime
    return cpu, int(fields[7]), int(fields[8])  # minflt, cminflt


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_pid(interp: Interpreter) -> int:
    """The fork server's pid in this PID namespace: the parent of a session's process."""
    session = interp.session()
    session.run(TRIVIAL)
    pid = session._process.pid  # type: ignore[union-attr]
    with open(f"/proc/{pid}/stat") as stat:
        parent = int(stat.read().rpartition(")")[2].split()[1])
    session.close()
    return parent


def session_cost(interp: Interpreter, server: int, count: int, cells: int) -> dict[str, float]:
    """Machine CPU (host + server + children) and faults per session of ``cells`` trivial cells."""
    time.sleep(0.5)  # the server reaps what ended before
    host_cpu = _self_cpu()
    server_cpu, server_faults, child_faults = _proc_counters(server)
    for _ in range(count):
        session = interp.session()
        if cells:
            for _ in range(cells):
                session.run(TRIVIAL)
        else:
            session._ensure_started()
        session.close()
    time.sleep(0.8)  # let the server reap the last children (it polls every 0.2 s)
    end_cpu, end_faults, end_child_faults = _proc_counters(server)
    return {
        "cpu_s": (_self_cpu() - host_cpu + end_cpu - server_cpu) / count,
        "child_faults": (end_child_faults - child_faults) / count,
        "server_faults": (end_faults - server_faults) / count,
    }


async def sessions_per_second(interp: Interpreter, concurrency: int, total: int) -> float:
    remaining = [total]

    async def worker() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            async with interp.session() as session:
                await session.arun(TRIVIAL)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


def first_output(interp: Interpreter, count: int) -> tuple[float, float]:
    """p50 and p90 seconds from creating a session to the output of ``print(1)``."""
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        with interp.session() as session:
            result = session.run("print(1)")
            samples.append(time.perf_counter() - started)
        assert result.output == "1\n", result.output
        time.sleep(0.01)  # as between two problems: lets a pool refill
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)]


def _pool_interpreter(size: int) -> Interpreter | None:
    """An interpreter with a pool of ``size``; None on a version without the pool."""
    try:
        return Interpreter(pool_size=size)  # type: ignore[call-arg]
    except TypeError:
        return None  # a version without the pool


def report_spawn(repeat: int) -> None:
    forks = bare_fork(40 * repeat)
    rows: list[tuple[str, str]] = []
    with _pool_interpreter(0) or Interpreter() as interp:
        server = server_pid(interp)
        started = session_cost(interp, server, 10 * repeat, 0)
        with_cell = session_cost(interp, server, 10 * repeat, 1)
        rates = {c: asyncio.run(sessions_per_second(interp, c, 12 * repeat)) for c in (1, 4, 16)}
        latency = first_output(interp, 10 * repeat)
    pooled, pooled_rates = None, {}
    pool_interp = _pool_interpreter(4)
    if pool_interp is not None:
        with pool_interp:
            first_output(pool_interp, 5)  # warm-up
            pooled = first_output(pool_interp, 10 * repeat)
            pooled_rates = {
                c: asyncio.run(sessions_per_second(pool_interp, c, 12 * repeat)) for c in (1, 4, 16)
            }
    ms = 1000
    rows.append(("fork+exit of the same heap: machine CPU", f"{forks['cpu_s'] * ms:.2f} ms"))
    rows.append(("  page faults of the child", f"{forks['child_faults']:.0f}"))
    rows.append(("  page faults of the parent per fork", f"{forks['parent_faults']:.0f}"))
    for name, cost in (("session start+close", started), ("session + 1 trivial cell", with_cell)):
        ratio = cost["cpu_s"] / forks["cpu_s"]
        rows.append((f"{name}: machine CPU", f"{cost['cpu_s'] * ms:.2f} ms  ({ratio:.2f}x fork)"))
        faults = cost["child_faults"] / max(forks["child_faults"], 1)
        rows.append(
            ("  page faults per child", f"{cost['child_faults']:.0f}  ({faults:.2f}x fork)")
        )
        rows.append(("  page faults per spawn in the server", f"{cost['server_faults']:.0f}"))
    for concurrency, rate in rates.items():
        with_pool = f" (pool of 4: {pooled_rates[concurrency]:.1f})" if pooled_rates else ""
        rows.append((f"sessions/s at concurrency {concurrency}", f"{rate:.1f}{with_pool}"))
    rows.append(("first output of print(1), no pool", _latency(latency)))
    rows.append(("first output of print(1), pool of 4", _latency(pooled) if pooled else "no pool"))
    for name, value in rows:
        print(f"{name:<44} {value}")


def _latency(figures: tuple[float, float]) -> str:
    return f"p50 {figures[0] * 1000:.2f} ms, p90 {figures[1] * 1000:.2f} ms"


def main(argv: list[str]) -> None:
    report_spawn(int(argv[1]) if len(argv) > 1 else 1)


if __name__ == "__main__":
    main(sys.argv)
