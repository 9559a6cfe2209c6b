"""The notebook that runs inside a session child: cells share one namespace, as in Jupyter.

The value of a final bare expression is displayed (its ``repr``). ``sys.stdout`` and
``sys.stderr`` write, in order, to descriptor 1, where writes of C code and ``os.write`` land
too; the server reads that pipe and caps it. The child never sees the pipes to the host: all it
can tell the server is one small status frame per cell, which the server checks. Tracebacks keep
the frames of the cells only: the notebook's own frames are noise to the model that reads them.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import ctypes
import hashlib
import io
import linecache
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

from .protocol import CellStatusFrame, ChannelClosed, encode_frame, read_frame, write_all
from .tasks import may_run

CELL_FILENAME = "<cell-{n}>"
OUTPUT_FD = 1
FLUSH_BYTES = 1 << 16
THREAD_GRACE_S = 0.1
"""How long threads a cell started and did not join get to finish after it returns (``settle``)."""
EXIT_POLL_S = 0.001
"""How often ``settle`` asks the kernel whether the OS threads of finished threads have exited."""
EXIT_CPU_S = 0.5
"""CPU time finished threads may use while ``settle`` waits for them to exit (exiting takes
microseconds): past it they are running code, not exiting, and the wait ends."""
MAX_REQUEST_BYTES = 64 * 1024 * 1024


class CellTimeout(BaseException):
    """Raised inside a cell when its soft time limit passes (BaseException: ``except Exception``
    in model code must not swallow it); ``waited``: the wall-clock limit, not the CPU one."""

    def __init__(self, waited: bool) -> None:
        super().__init__()
        self.waited = waited


def _raise_timeout(signum: int, frame: Any) -> None:
    raise CellTimeout(waited=signum == signal.SIGALRM)


class OutputSink:
    """One ordered buffer for ``sys.stdout`` and ``sys.stderr``, written to descriptor 1."""

    def __init__(self, fd: int = OUTPUT_FD) -> None:
        self.fd = fd
        self._buffer = bytearray()

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        data, self._buffer = bytes(self._buffer), bytearray()
        # the cell may have closed or broken its own output: what it writes is lost, nothing else
        with contextlib.suppress(OSError):
            write_all(self.fd, data)


class OutputStream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` of a cell."""

    def __init__(self, sink: OutputSink, name: str) -> None:
        super().__init__()
        self._sink = sink
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._sink.fd

    def write(self, text: str) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._sink.write(text.encode("utf-8", "backslashreplace"))
        return len(text)

    def flush(self) -> None:
        self._sink.flush()


class Notebook:
    """A namespace plus the machinery to run cells in it."""

    def __init__(self, saved_output_fd: int | None = None, libc: ctypes.CDLL | None = None) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.cell_count = 0
        self._saved_output_fd = saved_output_fd
        self._sink = OutputSink()
        self._libc = libc if libc is not None else ctypes.CDLL(None)
        self._threads = ThreadLog()

    def run(self, code: str, timeout: float | None, wait: float | None = None) -> CellStatusFrame:
        """Run one cell, its output written to descriptor 1; return ``{"status", "threads"}``.
        ``timeout``: CPU seconds; ``wait``: wall-clock seconds (default: ``timeout``)."""
        self.cell_count += 1
        filename = CELL_FILENAME.format(n=self.cell_count)
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        self._restore_output()
        threads_before = set(threading.enumerate())
        status = self._execute(code, filename, timeout, wait or timeout)
        self._sink.flush()
        self._libc.fflush(None)  # what C code printed with stdio
        return {"status": status, "threads": settle(threads_before, self._threads)}

    def _restore_output(self) -> None:
        """Point descriptors 1 and 2 at the output pipe again, should a cell have moved them."""
        if self._saved_output_fd is None:
            return
        try:
            os.dup2(self._saved_output_fd, 1)
            os.dup2(self._saved_output_fd, 2)
        except OSError:
            self._saved_output_fd = None

    def _execute(self, code: str, filename: str, timeout: float | None, wait: float | None) -> str:
        saved = sys.stdout, sys.stderr
        sys.stdout = OutputStream(self._sink, "<stdout>")
        sys.stderr = OutputStream(self._sink, "<stderr>")
        signal.signal(signal.SIGPROF, _raise_timeout)
        signal.signal(signal.SIGALRM, _raise_timeout)
        try:
            if timeout and wait:
                signal.setitimer(signal.ITIMER_PROF, timeout)  # CPU time of this process
                signal.setitimer(signal.ITIMER_REAL, wait)
            try:
                self._run_cell(code, filename)
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
                signal.setitimer(signal.ITIMER_REAL, 0)
            return "ok"
        except CellTimeout as exc:
            limit = (
                f"{wait:g} s wall-clock limit (it waited rather than computed)"
                if exc.waited
                else f"{timeout:g} s time limit (CPU time)"
            )
            self._write(
                f"TimeoutError: the cell exceeded its {limit} and was interrupted; variables "
                "assigned before that are kept\n"
            )
            return "timeout"
        except MemoryError as exc:
            self._write(_format_exception(exc))
            return "memory"
        except BaseException as exc:  # the model's code may raise anything, SystemExit included
            self._write(_format_exception(exc))
            return "error"
        finally:
            sys.stdout, sys.stderr = saved

    def _write(self, text: str) -> None:
        self._sink.write(text.encode("utf-8", "backslashreplace"))

    def _run_cell(self, code: str, filename: str) -> None:
        tree = ast.parse(code, filename, "exec")
        last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        if last is not None:
            tree.body.pop()
        exec(compile(tree, filename, "exec"), self.namespace)
        if last is not None:
            expression = ast.Expression(last.value)
            value = eval(compile(expression, filename, "eval"), self.namespace)
            if value is not None:
                print(repr(value))


class ThreadLog:
    """The native ids of the Python threads started in this process since it was made: the
    profile hook of ``threading`` notes each thread as it starts, then takes itself off it."""

    def __init__(self) -> None:
        self.native_ids: set[int] = set()
        threading.setprofile(self._note)

    def _note(self, frame: Any, event: str, arg: Any) -> None:
        sys.setprofile(None)
        self.native_ids.add(threading.get_native_id())

    def finished(self) -> set[int]:
        """Ids of the noted threads whose Python code has ended (joined or not)."""
        live = {thread.native_id for thread in threading.enumerate()}
        return self.native_ids - live


def settle(before: set[threading.Thread], log: ThreadLog) -> list[str]:
    """The names of the threads the cell started that are still running after it returned.

    Threads the cell did not join get ``THREAD_GRACE_S`` to end. Then, for every thread whose
    Python code has ended, this waits until the kernel reports its OS thread exiting or gone
    (``tasks.may_run``), however long a busy machine takes to schedule that: the host ends the
    session of a process with any other thread left, and an ended thread is no reason to. The
    wait has no deadline: a thread that only pretends to have ended (hostile code) is waited
    for until it has used ``EXIT_CPU_S`` of CPU time, or, asleep, until the host's hard time
    limit kills the session.
    """
    started = [t for t in threading.enumerate() if t not in before]
    deadline = time.monotonic() + THREAD_GRACE_S
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    _await_exits(log)
    return [t.name for t in started if t.is_alive()]


def _await_exits(log: ThreadLog) -> None:
    """Wait until the OS thread of every finished Python thread is exiting or gone."""
    finished = log.finished()
    if not finished:
        return
    try:
        tasks = os.open("/proc/self/task", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return  # nothing to ask: the host, which asks the kernel itself, decides
    waiting = finished
    budget = _cpu_s(finished) + EXIT_CPU_S
    try:
        while waiting := {tid for tid in waiting if _may_run(tasks, tid)}:
            if _cpu_s(waiting) > budget:
                break
            time.sleep(EXIT_POLL_S)
    finally:
        os.close(tasks)
    log.native_ids -= finished


def _cpu_s(tids: set[int]) -> float:
    """CPU seconds the threads ``tids`` of this process have used, by their kernel clocks."""
    total = 0.0
    for tid in tids:
        with contextlib.suppress(OSError):  # gone: nothing more to count
            total += time.clock_gettime(((~tid) << 3) | 6)  # MAKE_THREAD_CPUCLOCK(tid, SCHED)
    return total


def _may_run(tasks: int, tid: int) -> bool:
    try:
        return may_run(tasks, tid)
    except OSError:
        return False  # unreadable: not worth waiting for; the host judges the thread itself


def _format_exception(exc: BaseException) -> str:
    """A traceback with the cells' frames only, then the exception line."""
    if isinstance(exc, SyntaxError):
        return "".join(traceback.format_exception_only(type(exc), exc))
    frames = [
        (frame, lineno)
        for frame, lineno in traceback.walk_tb(exc.__traceback__)
        if frame.f_code.co_filename.startswith("<cell-")
    ]
    lines = []
    if frames:
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.StackSummary.extract(iter(frames)).format())
    lines.extend(traceback.format_exception_only(type(exc), exc))
    return "".join(lines)


def seed_generators(seed: int) -> None:
    """Seed the stdlib's, NumPy's global and SymPy's generators from the session's seed (each
    its own stream): forks of one heap would otherwise share NumPy's and SymPy's state."""
    import random

    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        digest = hashlib.sha256(f"numpy:{seed}".encode()).digest()
        numpy.random.seed(int.from_bytes(digest[:4], "big"))
    sympy_random = sys.modules.get("sympy.core.random")
    if sympy_random is not None:
        sympy_random.seed(f"sympy:{seed}")


def serve(notebook: Notebook, requests_fd: int, replies_fd: int) -> None:
    """Answer each request frame ``{code, timeout, wait, seed?}`` with a status frame, until
    end of input; a ``seed`` reseeds the random generators before its cell."""
    write_all(replies_fd, encode_frame({"ready": True}))
    while True:
        try:
            request = read_frame(requests_fd, MAX_REQUEST_BYTES)
        except ChannelClosed:
            return
        if isinstance(request.get("seed"), int):
            seed_generators(request["seed"])
        reply = notebook.run(request["code"], request.get("timeout"), request.get("wait"))
        write_all(replies_fd, encode_frame(reply))
