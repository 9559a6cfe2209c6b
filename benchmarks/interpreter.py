"""Interpreter benchmark: verimath's fork-server sessions against the usual alternatives.

Everything is measured side by side in one run on this machine and printed as ratios:

1. session start: a forked, preloaded session vs a fresh ``python`` process importing the same
   libraries, and vs the same fresh process inside bubblewrap (a naive sandbox); and the CPU
   time a session start costs the server and the session, as the kernel counts it (steady on a
   busy machine, where wall-clock figures move a lot);
2. per-cell overhead: a trivial cell through the sandbox vs ``exec`` in the host process;
3. notebook state: ten dependent cells kept in one live session vs re-running all earlier cells
   as text in a fresh process for each new cell (the lossy, quadratic alternative);
4. concurrency: 200 CPU-bound cells (~20 ms) over 32 asyncio sessions vs one by one
   (2 cores: the ideal ratio is about 2);
5. memory: proportional set size (PSS) of 32 idle sessions, sharing the preloaded heap;
6. notebook fidelity: the 2,493 recorded MathCoder cells re-executed and compared with the
   outputs recorded in Jupyter (``notebook_fidelity.py``): the share that agrees, with NumPy's
   legacy print mode (verimath's default) and without it, and the top causes of mismatches.

7. session start against its physical limit (``spawn_cost.py``): a bare fork+exit of the same
   heap, a session's machine CPU, page faults per child and per spawn, sessions/s at concurrency
   1/4/16, first-output latency with and without the pool.

Usage: python benchmarks/interpreter.py [--repeat N] [--only speed|fidelity|spawn]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from notebook_fidelity import report_fidelity
from shared import TRANSCRIPTS
from spawn_cost import report_spawn
from verimath.interpreter import Interpreter
from verimath.interpreter.launcher import PRELOAD_MODULES, bwrap_command

IMPORTS = "import " + ", ".join(m for m in PRELOAD_MODULES)
NOTEBOOK = [
    f"v{i} = {'v' + str(i - 1) + ' + ' if i else ''}sympy.Rational(1, {i + 2})" for i in range(10)
]
CPU_CELL = "sum(i * i for i in range({n} + 300_000))"


def median_time(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def fresh_process() -> None:
    subprocess.run([sys.executable, "-c", IMPORTS], check=True)


def fresh_bwrap_process(interp: Interpreter) -> None:
    argv = bwrap_command("bwrap", interp.limits, [sys.executable, "-I", "-c", IMPORTS])
    subprocess.run(argv, check=True, env={"PATH": "/usr/bin"})


def session_start(interp: Interpreter) -> None:
    with interp.session() as session:
        session.run("import sympy")


def session_start_cpu_s(interp: Interpreter, count: int) -> tuple[float, float]:
    """CPU seconds per session start: of the server and its (reaped) sessions, and of the host."""
    assert interp._server is not None
    launched = interp._server.process.pid  # bwrap, whose one child is the server
    try:
        with open(f"/proc/{launched}/task/{launched}/children") as children:
            server = int(children.read().split()[0])
    except (OSError, IndexError):
        server = launched  # no bubblewrap: the server itself

    def server_cpu() -> float:
        with open(f"/proc/{server}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")

    def host_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    before = server_cpu(), host_cpu()
    for _ in range(count):
        session_start(interp)
    time.sleep(1.0)  # the server reaps an ended session within its poll interval
    return (server_cpu() - before[0]) / count, (host_cpu() - before[1]) / count


def replay_notebook() -> None:
    for upto in range(1, len(NOTEBOOK) + 1):
        code = "import sympy\n" + "\n".join(NOTEBOOK[:upto])
        subprocess.run([sys.executable, "-c", code], check=True)


def live_notebook(interp: Interpreter) -> None:
    with interp.session() as session:
        session.run("import sympy")
        for cell in NOTEBOOK:
            session.run(cell)


async def concurrent_cells(sessions: list, cells: int) -> None:
    async def worker(index: int) -> None:
        for n in range(index, cells, len(sessions)):
            await sessions[index].arun(CPU_CELL.format(n=n))

    await asyncio.gather(*(worker(i) for i in range(len(sessions))))


def sequential_cells(session, cells: int) -> None:
    for n in range(cells):
        session.run(CPU_CELL.format(n=n))


def session_pss_mb(interp: Interpreter, count: int) -> tuple[float, float]:
    """Total and per-session PSS of ``count`` idle sessions, in MiB."""
    sessions = [interp.session() for _ in range(count)]
    for session in sessions:
        session.run("import sympy, numpy\nready = True")
    total_kb = 0
    for status_path in glob.glob("/proc/[0-9]*/status"):
        try:
            with open(status_path) as status:
                uid_line = next(line for line in status if line.startswith("Uid:"))
            if int(uid_line.split()[1]) < 200_000:
                continue
            with open(status_path.replace("status", "smaps_rollup")) as rollup:
                total_kb += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
    for session in sessions:
        session.close()
    return total_kb / 1024, total_kb / 1024 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=("speed", "fidelity", "spawn"), default=None)
    args = parser.parse_args()
    if args.only in (None, "speed"):
        speed(args.repeat)
    if args.only in (None, "spawn"):
        report_spawn(args.repeat)
    if args.only in (None, "fidelity"):
        report_fidelity(TRANSCRIPTS)


def speed(repeat: int) -> None:
    rows = []
    with Interpreter() as interp:
        ours = median_time(lambda: session_start(interp), repeat * 4)
        plain = median_time(fresh_process, repeat)
        boxed = median_time(lambda: fresh_bwrap_process(interp), repeat)
        rows.append(("session start (preloaded fork)", ours, None))
        rows.append(("  fresh python + imports", plain, plain / ours))
        rows.append(("  fresh bwrap python + imports", boxed, boxed / ours))
        server_cpu, host_cpu = session_start_cpu_s(interp, repeat * 40)
        rows.append(("session start, CPU of server + session", server_cpu, None))
        rows.append(("session start, CPU of the host", host_cpu, None))

        with interp.session() as session:
            session.run("x = 0")
            cell = median_time(lambda: session.run("x = 1"), repeat * 200)
        namespace: dict[str, object] = {}
        local = median_time(lambda: exec("x = 1", namespace), repeat * 200)
        rows.append(("trivial cell in sandbox", cell, None))
        rows.append(("  exec in host process (unsafe)", local, local / cell))

        live = median_time(lambda: live_notebook(interp), repeat)
        replay = median_time(replay_notebook, max(1, repeat // 2))
        rows.append(("10-cell notebook, live session", live, None))
        rows.append(("  re-run earlier cells per cell", replay, replay / live))

        sessions = [interp.session() for _ in range(32)]
        for session in sessions:
            session.run("warm = True")
        parallel = median_time(lambda: asyncio.run(concurrent_cells(sessions, 200)), 3)
        serial = median_time(lambda: sequential_cells(sessions[0], 200), 3)
        for session in sessions:
            session.close()
        rows.append(("200 CPU cells, 32 async sessions", parallel, None))
        rows.append(("  same cells, one session", serial, serial / parallel))
        total, per_session = session_pss_mb(interp, 32)

    print("ratio = the alternative's time / verimath's time (above 1: verimath is faster)")
    print(f"{'measurement':<40} {'median':>12} {'ratio':>14}")
    for name, seconds, ratio in rows:
        ratio_text = f"{ratio:13.2f}x" if ratio is not None else ""
        print(f"{name:<40} {seconds * 1000:10.2f}ms {ratio_text:>14}")
    print(f"32 idle sessions: {total:.1f} MiB PSS in all, {per_session:.1f} MiB each")
    print(f"sandbox overhead per cell: {(cell - local) * 1e6:.0f} microseconds")


if __name__ == "__main__":
    main()
