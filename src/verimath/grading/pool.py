"""A pool of grading worker processes with a hard CPU-time limit per comparison.

Each worker is owned by one lane thread, which takes jobs from a shared queue, sends them
to its worker and waits for the reply until the worker has spent ``timeout`` CPU seconds on
it (or, on a machine so busy that the worker hardly runs, ``WALL_BACKSTOP`` times that in
wall-clock seconds). A worker that misses its limit is killed (SIGKILL) and replaced; the
job is answered ``timeout`` and the other lanes are not affected. ``submit`` returns a
``concurrent.futures.Future``, so the pool can be used from any number of threads and,
through ``asyncio.wrap_future``, from asyncio.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from verimath.cputime import process_cpu_s
from verimath.errors import GradingError
from verimath.grading.status import Status, Verdict
from verimath.grading.worker import CompareReply, CompareRequest, ReadyMessage

__all__ = ["WorkerPool"]

BOOT_TIMEOUT = 60.0
"""Seconds a new worker may take to import SymPy and answer ``ready``."""
SOFT_TIMEOUT_SHARE = 0.8
"""The worker interrupts itself after this share of the timeout; the pool kills it at 100%.
(Above 1 the pool always kills first: tests use that to exercise the kill.)"""
KILL_MARGIN = 0.05
"""CPU seconds before the timeout at which a worker is killed."""
WALL_BACKSTOP = 10.0
"""A comparison still running after this many times the timeout in wall-clock seconds is
killed whatever CPU time it had: a machine that starves a worker that much gets no verdict."""
POLL_S = 0.05
"""How often the pool reads a busy worker's CPU time."""
CLOSE_GRACE = 2.0
"""Seconds a worker gets to exit on its own when the pool closes."""

_Job = tuple[str, str, "Future[Verdict]"]


class WorkerPool:
    """Worker processes that compare answers, each comparison bounded by ``timeout``.

    Args:
        workers: number of worker processes (and lanes).
        timeout: CPU seconds per comparison, counted from the moment a worker receives it.
            CPU time, not wall-clock time, so that a verdict does not depend on how busy the
            machine is (a grade is the same on a loaded laptop and an idle server).
        memory_mb: address-space cap per worker (0: none).
        soft_timeout_share: when the worker interrupts itself, as a share of ``timeout``.
        warm: warm each lane's first worker up on typical answers (faster afterwards).
    """

    def __init__(
        self,
        workers: int,
        timeout: float,
        memory_mb: int,
        soft_timeout_share: float = SOFT_TIMEOUT_SHARE,
        warm: bool = True,
    ) -> None:
        if workers < 1:
            raise GradingError(f"a grading pool needs at least one worker, not {workers}")
        if timeout <= 0:
            raise GradingError(f"the grading timeout must be positive, not {timeout}")
        self.size, self.timeout, self.memory_mb = workers, timeout, memory_mb
        self.soft_timeout = timeout * soft_timeout_share
        self.warm = warm
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()  # None: stop
        self._lock = threading.Lock()
        self._lanes: list[threading.Thread] = []
        self._closed = False
        self._local = threading.local()
        self.kills = 0
        """How many workers were killed for missing a deadline (for reports and tests)."""
        self.worker_cpu = 0.0
        """CPU seconds the workers reported spending on comparisons."""

    def submit(self, gold: str, pred: str) -> Future[Verdict]:
        """Queue one comparison of normalised answers; the future holds its Verdict."""
        future: Future[Verdict] = Future()
        with self._lock:
            if self._closed:
                raise GradingError("the grader is closed; create a new Grader to grade more")
            if not self._lanes:
                self._start_lanes()
            self._jobs.put((gold, pred, future))
        return future

    def close(self) -> None:
        """Stop the pool: queued comparisons fail with GradingError at once, those in
        progress finish (within one timeout), then the workers exit."""
        with self._lock:
            if self._closed:
                return
            self._closed = True  # from here on no job can be added, and no lane started
        self._fail_pending()  # outside the lock: failing a future runs its callbacks
        for _ in self._lanes:
            self._jobs.put(None)
        for lane in self._lanes:
            lane.join(timeout=self.timeout + CLOSE_GRACE + 1)

    def _start_lanes(self) -> None:
        for index in range(self.size):
            lane = threading.Thread(
                target=self._run_lane, name=f"verimath-grading-{index}", daemon=True
            )
            lane.start()
            self._lanes.append(lane)

    def _run_lane(self) -> None:
        worker: _Worker | None = None
        self._local.first = self.warm
        try:
            while True:
                job = self._jobs.get()
                if job is None:
                    return
                gold, pred, future = job
                if future.set_running_or_notify_cancel():
                    worker = self._serve(worker, gold, pred, future)
        finally:
            if worker is not None:
                worker.close()

    def _serve(
        self, worker: _Worker | None, gold: str, pred: str, future: Future[Verdict]
    ) -> _Worker | None:
        """Answer one job; returns the worker to keep (None when it had to go)."""
        try:
            if worker is None or not worker.alive:
                worker = self._new_worker()
            verdict, worker = self._compare(worker, gold, pred)
        except GradingError as exc:
            future.set_exception(exc)
            return None
        except Exception as exc:  # a lane must survive anything, or its futures never finish
            if worker is not None:
                worker.kill()
            future.set_exception(GradingError(f"grading worker failed: {exc!r}"))
            return None
        future.set_result(verdict)
        return worker

    def _new_worker(self) -> _Worker:
        """Start a worker; only a lane's first one is warmed up (replacements hurry)."""
        worker = _Worker(self.memory_mb, warm=self._local.first)
        self._local.first = False
        worker.wait_ready(BOOT_TIMEOUT)
        return worker

    def _compare(self, worker: _Worker, gold: str, pred: str) -> tuple[Verdict, _Worker | None]:
        """Run one comparison; returns the verdict and the worker to use next (None: dead)."""
        cpu_limit = self.timeout - min(KILL_MARGIN, self.timeout / 10)
        wall_deadline = time.monotonic() + self.timeout * WALL_BACKSTOP
        reply = worker.request(gold, pred, self.soft_timeout, cpu_limit, wall_deadline)
        if reply is None:
            starved = time.monotonic() >= wall_deadline
            worker.kill()
            with self._lock:
                self.kills += 1
            if starved:
                detail = f"no verdict after {self.timeout * WALL_BACKSTOP:g} s (machine overloaded)"
            else:
                detail = f"timed out after {self.timeout:g} s of CPU time"
            return Verdict(Status.TIMEOUT, detail), None
        verdict = Verdict(Status(reply["status"]), reply["detail"])
        with self._lock:
            self.worker_cpu += float(reply.get("cpu", 0.0))
        if reply.get("retire"):
            worker.close()
            return verdict, None
        return verdict, worker

    def _fail_pending(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                future = job[2]
                if future.set_running_or_notify_cancel():
                    future.set_exception(GradingError("the grader was closed before grading"))


class _Worker:
    """One worker process, spoken to in JSON lines over its stdin and stdout."""

    def __init__(self, memory_mb: int, warm: bool) -> None:
        command = [sys.executable, "-m", "verimath.grading.worker", str(memory_mb)]
        self.process = subprocess.Popen(
            [*command, "--warm"] if warm else command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_worker_environment(),
            close_fds=True,
        )
        self._buffer = bytearray()
        self._eof = False

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float) -> None:
        line = self._read_line(time.monotonic() + timeout)
        message: ReadyMessage = json.loads(line) if line else {"ready": False, "error": "no answer"}
        if not message.get("ready"):
            self.kill()
            raise GradingError(
                "a grading worker failed to start (python -m verimath.grading.worker): "
                f"{message.get('error', 'unknown error')}; check that sympy and "
                "math-verify[antlr4_13_2] are installed in this environment"
            )

    def request(
        self, gold: str, pred: str, soft_timeout: float, cpu_limit: float, wall_deadline: float
    ) -> CompareReply | None:
        """Send one comparison; the reply, or None once it has used ``cpu_limit`` CPU seconds
        or ``wall_deadline`` passed (the worker is then to be killed)."""
        request: CompareRequest = {"gold": gold, "pred": pred, "soft_timeout": soft_timeout}
        message = json.dumps(request)
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(message.encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return _died(self.process)
        cpu_deadline = self.cpu_seconds() + cpu_limit
        while True:
            line = self._read_line(min(time.monotonic() + POLL_S, wall_deadline))
            if line is not None:
                reply: CompareReply = json.loads(line)
                return reply
            if self._eof:
                return _died(self.process)
            if time.monotonic() >= wall_deadline or self.cpu_seconds() >= cpu_deadline:
                return None

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the worker process has used so far (0.0 once it is gone:
        the next read sees end of output)."""
        return process_cpu_s(self.process.pid)

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        self._close_pipes()

    def close(self) -> None:
        """Let the worker exit on end of input; kill it if it does not."""
        self._close_pipes()
        try:
            self.process.wait(timeout=CLOSE_GRACE)
        except subprocess.TimeoutExpired:
            self.kill()

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(OSError):
                    pipe.close()

    def _read_line(self, deadline: float) -> bytes | None:
        """One reply line, or None at the deadline or end of output (raw fd: no hidden buffer)."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                self._eof = True
                return None
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        return line


def _died(process: subprocess.Popen[bytes]) -> CompareReply:
    code = process.wait()
    return {
        "status": Status.TIMEOUT.value,
        "detail": f"worker died (exit code {code})",
        "retire": True,
    }


def _worker_environment() -> dict[str, str]:
    """The parent's environment, with verimath's own location first on PYTHONPATH."""
    env = dict(os.environ)
    source_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    return env
