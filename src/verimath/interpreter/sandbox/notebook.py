"""The notebook that runs inside a session child: cells share one namespace, as in Jupyter.

The value of a final bare expression is displayed (its ``repr``). Output is ``sys.stdout`` and
``sys.stderr`` interleaved, plus anything written straight to file descriptors 1 and 2, cut
head + tail. Tracebacks keep the frames of the cells only: the notebook's own frames are noise
to the model that reads them.
"""

from __future__ import annotations

import ast
import builtins
import linecache
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

from .capture import BoundedBuffer, CaptureStream, cut_middle

CELL_FILENAME = "<cell-{n}>"


class CellTimeout(BaseException):
    """Raised inside a cell when its soft time limit passes (BaseException: ``except Exception``
    in model code must not swallow it)."""


def _raise_timeout(signum: int, frame: Any) -> None:
    raise CellTimeout


class Notebook:
    """A namespace plus the machinery to run cells in it."""

    def __init__(self, max_output_chars: int, fd_output: int | None = None) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.max_output_chars = max_output_chars
        self.cell_count = 0
        self._fd_output = fd_output

    def run(self, code: str, timeout: float | None) -> dict[str, Any]:
        """Run one cell; return ``{"status", "output", "duration_s", "cpu_s"}``."""
        self.cell_count += 1
        filename = CELL_FILENAME.format(n=self.cell_count)
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        buffer = BoundedBuffer(self.max_output_chars)
        threads_before = set(threading.enumerate())
        self._reset_fd_output()
        started, cpu_started = time.perf_counter(), time.process_time()
        status = self._execute(code, filename, buffer, timeout)
        duration = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        output = buffer.render() + self._read_fd_output()
        output += _note_lingering_threads(threads_before)
        return {"status": status, "output": output, "duration_s": duration, "cpu_s": cpu}

    def _execute(
        self, code: str, filename: str, buffer: BoundedBuffer, timeout: float | None
    ) -> str:
        saved = sys.stdout, sys.stderr
        sys.stdout = CaptureStream(buffer, "<stdout>")
        sys.stderr = CaptureStream(buffer, "<stderr>")
        signal.signal(signal.SIGALRM, _raise_timeout)
        try:
            if timeout:
                signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                self._run_cell(code, filename)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            return "ok"
        except CellTimeout:
            buffer.write(
                f"TimeoutError: the cell exceeded its {timeout:g} s time limit and was "
                "interrupted; variables assigned before that are kept\n"
            )
            return "timeout"
        except MemoryError as exc:
            buffer.write(_format_exception(exc))
            return "memory"
        except BaseException as exc:  # the model's code may raise anything, SystemExit included
            buffer.write(_format_exception(exc))
            return "error"
        finally:
            sys.stdout, sys.stderr = saved

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

    def _reset_fd_output(self) -> None:
        if self._fd_output is None:
            return
        try:
            os.ftruncate(self._fd_output, 0)
            os.lseek(self._fd_output, 0, os.SEEK_SET)
        except OSError:
            self._fd_output = None

    def _read_fd_output(self) -> str:
        """What the cell wrote straight to descriptors 1 and 2 (C code, ``os.write``)."""
        if self._fd_output is None:
            return ""
        try:
            size = os.fstat(self._fd_output).st_size
            if not size:
                return ""
            limit = self.max_output_chars * 4
            head = os.pread(self._fd_output, min(size, limit), 0)
            tail = (
                os.pread(self._fd_output, limit, max(limit, size - limit)) if size > limit else b""
            )
        except OSError:
            return ""
        text = head.decode("utf-8", "replace")
        omitted = size - len(head) - len(tail)
        if omitted > 0:
            text += f"\n[... {omitted} bytes omitted ...]\n"
        text += tail.decode("utf-8", "replace")
        return cut_middle(text, self.max_output_chars)


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


def _note_lingering_threads(before: set[threading.Thread]) -> str:
    alive = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    if not alive:
        return ""
    names = ", ".join(t.name for t in alive)
    return (
        f"\n[note: {len(alive)} thread(s) started by this cell are still running ({names}); "
        "their output will appear with later cells]\n"
    )
