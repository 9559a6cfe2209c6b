"""The host side of the interpreter: ``Interpreter`` owns the fork server, ``Session`` a notebook.

    with Interpreter() as interp, interp.session() as session:
        session.run("x = 5")
        session.run("x + 1").output  # '6\\n'

``Session.run`` blocks; ``await Session.arun(...)`` waits on the event loop without a thread.
Sessions start lazily on their first cell. A session whose process dies (hard time limit, crash,
``os._exit``) reports that cell as ``killed``; its next cell runs in a fresh process and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import select
import shutil
import socket
import threading
import time
import warnings
from enum import Enum
from typing import Any, Final

from verimath.errors import SandboxUnavailableError
from verimath.interpreter.launcher import Layer, ServerProcess, start_server
from verimath.interpreter.limits import Limits
from verimath.interpreter.result import CellResult, CellStatus
from verimath.interpreter.sandbox.protocol import FrameDecoder, encode_frame, write_all

SESSION_UID_BASE = 200_000
SESSION_UID_SPAN = 100_000
CONTROL_TIMEOUT_S = 30.0
READ_CHUNK = 1 << 16


class SandboxDegradedWarning(RuntimeWarning):
    """Some isolation layer is off; the message names which and why."""


class Interpreter:
    """Sandboxed, stateful Python sessions forked from one preloaded server.

    ``strict=True`` refuses to run when any isolation layer is off; otherwise the missing
    layers are announced once as a ``SandboxDegradedWarning``.
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        strict: bool = False,
        use_bwrap: bool = True,
        seccomp: bool = True,
    ) -> None:
        self.limits = limits or Limits()
        self.strict = strict
        self._use_bwrap = use_bwrap
        self._seccomp = seccomp
        self._server: ServerProcess | None = None
        self._lock = threading.Lock()
        self._sids = itertools.count(1)
        self._closed = False

    def start(self) -> Interpreter:
        """Start the fork server now rather than on the first cell."""
        with self._lock:
            self._ensure_server()
        return self

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The isolation layers and whether each is in force (starts the server)."""
        self.start()
        assert self._server is not None
        return self._server.layers

    def session(self) -> Session:
        """A new notebook session; its process starts with its first cell."""
        if self._closed:
            raise SandboxUnavailableError("this interpreter has been closed; create a new one")
        return Session(self)

    def close(self) -> None:
        """End every session and the server."""
        with self._lock:
            self._closed = True
            self._drop_server()

    def __enter__(self) -> Interpreter:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Interpreter:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def _ensure_server(self) -> ServerProcess:
        if self._closed:
            raise SandboxUnavailableError("this interpreter has been closed; create a new one")
        if self._server is None or self._server.process.poll() is not None:
            self._drop_server()
            self._server = start_server(
                self.limits, use_bwrap=self._use_bwrap, seccomp=self._seccomp
            )
            self._announce(self._server.layers)
        return self._server

    def _announce(self, layers: tuple[Layer, ...]) -> None:
        off = [layer for layer in layers if not layer.active]
        if not off:
            return
        text = "; ".join(f"{layer.name} ({layer.detail})" for layer in off)
        if self.strict:
            self._drop_server()
            raise SandboxUnavailableError(f"isolation layers off: {text}. Run 'verimath doctor'.")
        warnings.warn(
            f"verimath sandbox runs with isolation layers off: {text}. "
            "Run 'verimath doctor' for details.",
            SandboxDegradedWarning,
            stacklevel=4,
        )

    def _drop_server(self) -> None:
        """Stop the server, if any, and forget it (the caller holds the lock)."""
        if self._server is not None:
            _stop_server(self._server)
            self._server = None

    def _control(self, request: dict[str, Any], fds: list[int] | None = None) -> dict[str, Any]:
        """One request/reply on the control socket; restarts a dead server once."""
        with self._lock:
            for attempt in (1, 2):
                server = self._ensure_server()
                try:
                    return _exchange(server, request, fds or [])
                except (OSError, EOFError) as exc:
                    if attempt == 2 or request["op"] != "spawn":
                        raise SandboxUnavailableError(
                            f"the sandbox server failed during {request['op']!r}: {exc}. "
                            f"Its log:\n{server.log_tail()}"
                        ) from exc
                    self._drop_server()
        raise AssertionError("unreachable")

    def _spawn(self, fds: list[int]) -> int:
        sid = next(self._sids)
        request = {
            "op": "spawn",
            "sid": sid,
            "uid": SESSION_UID_BASE + sid % SESSION_UID_SPAN,
            "limits": self.limits.for_session(),
            "env": {},
        }
        reply = self._control(request, fds)
        if "error" in reply:
            raise SandboxUnavailableError(f"could not start a session: {reply['error']}")
        return sid

    def _log_tail(self) -> str:
        return self._server.log_tail() if self._server is not None else ""

    def _end(self, sid: int, *, kill: bool) -> str:
        if self._server is None:
            return "the sandbox server had stopped"
        try:
            reply = self._control({"op": "kill" if kill else "status", "sid": sid})
        except SandboxUnavailableError as exc:
            return str(exc)
        return str(reply.get("exit") or reply.get("error", "unknown"))


def _exchange(server: ServerProcess, request: dict[str, Any], fds: list[int]) -> dict[str, Any]:
    payload = json.dumps(request).encode()
    if fds:
        socket.send_fds(server.control, [payload], fds)
    else:
        server.control.send(payload)
    ready, _, _ = select.select([server.control], [], [], CONTROL_TIMEOUT_S)
    if not ready:
        raise TimeoutError(f"no answer within {CONTROL_TIMEOUT_S:g} s")
    data = server.control.recv(1 << 16)
    if not data:
        raise EOFError("the server closed its control socket")
    reply: dict[str, Any] = json.loads(data)
    return reply


def _stop_server(server: ServerProcess) -> None:
    with contextlib.suppress(OSError):
        server.control.send(json.dumps({"op": "shutdown"}).encode())
    server.control.close()
    try:
        server.process.wait(timeout=5)
    except Exception:
        server.process.kill()
        server.process.wait()
    server.log.close()
    if server.host_scratch:
        shutil.rmtree(server.host_scratch, ignore_errors=True)


class Session:
    """One notebook: cells share variables until the session is closed or its process dies."""

    def __init__(self, interpreter: Interpreter) -> None:
        self._interpreter = interpreter
        self._limits = interpreter.limits
        self._sid: int | None = None
        self._requests_fd = -1
        self._responses_fd = -1
        self._ended_because: str | None = None
        self._restart_reason: str | None = None
        self.cell_count = 0

    def run(self, code: str, timeout: float | None = None) -> CellResult:
        """Run one cell and wait for it; never raises for anything the code does."""
        cell = self._send(code, timeout)
        if isinstance(cell, CellResult):
            return cell
        deadline = time.monotonic() + cell.hard_limit_s
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._responses_fd], [], [], max(0.0, remaining))
            if not ready:
                return self._finish(cell, None, timed_out=True)
            outcome = self._read_available(cell)
            if outcome is not _PENDING:
                return self._finish(cell, outcome, timed_out=False)

    async def arun(self, code: str, timeout: float | None = None) -> CellResult:
        """Run one cell, awaiting its result on the running event loop."""
        if self._sid is None:  # forking a session takes milliseconds: not on the event loop
            await asyncio.to_thread(self._ensure_started)
        cell = self._send(code, timeout)
        if isinstance(cell, CellResult):
            return cell
        loop = asyncio.get_running_loop()
        done: asyncio.Future[dict[str, Any] | None] = loop.create_future()

        def on_readable() -> None:
            outcome = self._read_available(cell)
            if outcome is not _PENDING and not done.done():
                done.set_result(outcome)

        loop.add_reader(self._responses_fd, on_readable)
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as the cell finishes, leaving a cancelled run waiting forever
            async with asyncio.timeout(cell.hard_limit_s):
                outcome = await done
        except TimeoutError:
            return self._finish(cell, None, timed_out=True)
        finally:
            loop.remove_reader(self._responses_fd)
        return self._finish(cell, outcome, timed_out=False)

    def close(self) -> None:
        """End the session's process (its variables are gone)."""
        if self._sid is not None:
            os.close(self._requests_fd)
            os.close(self._responses_fd)
            self._sid = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> None:
        requests_read, self._requests_fd = os.pipe()
        self._responses_fd, responses_write = os.pipe()
        try:
            self._sid = self._interpreter._spawn([requests_read, responses_write])
        except BaseException:
            os.close(self._requests_fd)
            os.close(self._responses_fd)
            raise
        finally:
            os.close(requests_read)
            os.close(responses_write)
        os.set_blocking(self._responses_fd, False)
        self._await_ready()

    def _await_ready(self) -> None:
        """Wait for the child's first frame, which it sends once its sandbox is in place."""
        decoder = FrameDecoder()
        deadline = time.monotonic() + CONTROL_TIMEOUT_S
        while (remaining := deadline - time.monotonic()) > 0:
            select.select([self._responses_fd], [], [], remaining)
            try:
                data = os.read(self._responses_fd, READ_CHUNK)
            except BlockingIOError:
                continue
            if data and decoder.feed(data):
                return
            if not data:
                break
        assert self._sid is not None
        reason = self._interpreter._end(self._sid, kill=True)
        self.close()
        raise SandboxUnavailableError(
            f"a sandbox session failed to start ({reason}). Server log:\n"
            f"{self._interpreter._log_tail()}\nRun 'verimath doctor' to see which layer fails."
        )

    def _ensure_started(self) -> None:
        """Start the session's process if it has none (first cell, or after it died)."""
        if self._sid is None:
            self._restart_reason, self._ended_because = self._ended_because, None
            self._start()

    def _send(self, code: str, timeout: float | None) -> _PendingCell | CellResult:
        self._ensure_started()
        restarted_because, self._restart_reason = self._restart_reason, None
        self.cell_count += 1
        soft = timeout if timeout is not None else self._limits.timeout_s
        cell = _PendingCell(self.cell_count, soft, soft + self._limits.grace_s, restarted_because)
        try:
            write_all(self._requests_fd, encode_frame({"code": code, "timeout": soft}))
        except BrokenPipeError:
            return self._finish(cell, None, timed_out=False)
        return cell

    def _read_available(self, cell: _PendingCell) -> dict[str, Any] | _Pending | None:
        """Drain the response pipe: a frame, None at end of file, or _PENDING."""
        while True:
            try:
                data = os.read(self._responses_fd, READ_CHUNK)
            except BlockingIOError:
                return _PENDING
            if not data:
                return None
            frames = cell.decoder.feed(data)
            if frames:
                return frames[0]

    def _finish(
        self, cell: _PendingCell, frame: dict[str, Any] | None, *, timed_out: bool
    ) -> CellResult:
        duration = time.monotonic() - cell.started
        prefix = _restart_note(cell.restarted_because)
        if frame is not None:
            return CellResult(
                prefix + frame["output"],
                CellStatus(frame["status"]),
                duration,
                cell.index,
                cell.restarted_because is not None,
                cpu_s=frame.get("cpu_s", 0.0),
            )
        assert self._sid is not None
        sid = self._sid
        self.close()
        if timed_out:
            self._interpreter._end(sid, kill=True)
            reason = (
                f"the cell did not stop at its {cell.soft_limit_s:g} s time limit nor "
                f"within {self._limits.grace_s:g} s more, so its session was killed"
            )
        else:
            reason = self._interpreter._end(sid, kill=False)
        self._ended_because = reason
        output = f"{prefix}[session ended: {reason}; variables from earlier cells are lost]"
        return CellResult(
            output,
            CellStatus.KILLED,
            duration,
            cell.index,
            cell.restarted_because is not None,
            detail=reason,
        )


class _Pending(Enum):
    PENDING = "pending"


_PENDING: Final = _Pending.PENDING


class _PendingCell:
    """Book-keeping for a cell sent to the session but not yet answered."""

    def __init__(
        self, index: int, soft_limit_s: float, hard_limit_s: float, restarted_because: str | None
    ) -> None:
        self.index = index
        self.soft_limit_s = soft_limit_s
        self.hard_limit_s = hard_limit_s
        self.restarted_because = restarted_because
        self.started = time.monotonic()
        self.decoder = FrameDecoder()


def _restart_note(reason: str | None) -> str:
    if reason is None:
        return ""
    return "[new session: the previous one ended, so variables from earlier cells are gone]\n"
