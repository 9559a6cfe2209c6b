"""The host side of the interpreter: ``Interpreter`` owns the fork server, ``Session`` a notebook.

    with Interpreter() as interp, interp.session() as session:
        session.run("x = 5")
        session.run("x + 1").output  # '6\\n'

``Session.run`` blocks; ``await Session.arun(...)`` waits on the event loop without a thread.
Sessions start lazily on their first cell. A session whose process dies (hard time limit, crash,
``os._exit``) or whose cell leaves threads running ends: that cell says why (``detail``, and a
note in its output); the next cell runs in a fresh process and says so.

Nothing a session sends is trusted: every reply is checked (known fields and statuses, bounded
size, guarded decoding), and a reply that is not right ends the session as ``killed`` with the
reason. ``run`` and ``arun`` never raise because of what the code in a session does; they raise
``SandboxUnavailableError`` only when the sandbox itself cannot run.

The interpreter fails closed: it refuses to start when an isolation layer is off, naming the
layer and the fix, unless the caller turned that layer off by name (``use_bwrap=False``,
``seccomp=False``) or opted out of the sandbox as a whole with ``unsafe_no_sandbox=True`` (or
``VERIMATH_UNSAFE_NO_SANDBOX=1``); every layer that is off is then announced with a
``SandboxDegradedWarning``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import fcntl
import itertools
import json
import os
import secrets
import select
import signal
import socket
import threading
import time
import warnings
from typing import Any

from verimath.cputime import process_cpu_s
from verimath.errors import ConfigError, SandboxUnavailableError
from verimath.interpreter.launcher import Layer, ServerProcess, start_server
from verimath.interpreter.limits import Limits
from verimath.interpreter.pool import SessionPool
from verimath.interpreter.result import CellResult, CellStatus
from verimath.interpreter.sandbox.capture import OutputCapture, escape_controls
from verimath.interpreter.sandbox.files import remove_tree
from verimath.interpreter.sandbox.protocol import (
    CellRequest,
    ControlReply,
    ControlRequest,
    FrameDecoder,
    ProtocolError,
    SpawnRequest,
    encode_frame,
    write_all,
)
from verimath.interpreter.sandbox.tasks import may_run, thread_ids
from verimath.interpreter.uids import UidLease, lease_uid

CONTROL_TIMEOUT_S = 30.0
READ_CHUNK = 1 << 20
PUMP_CHUNKS = 16
LOOP_READ_BYTES = 1 << 18
"""What one event-loop callback reads of a session's output: a few milliseconds of work, so
that sessions flooding their output cannot keep the loop from its other tasks."""
DRAIN_CHUNKS = 256
F_SETPIPE_SZ = 1031
OUTPUT_PIPE_BYTES = 1 << 20  # fewer round trips for a cell that prints a lot
MAX_STATUS_BYTES = 64 * 1024
CHILD_STATUSES = frozenset({"ok", "error", "timeout", "memory"})
UNSAFE_ENV = "VERIMATH_UNSAFE_NO_SANDBOX"
POOL_ENV = "VERIMATH_SESSION_POOL"
# The layer's fix, named in the refusal; layers not listed here are not isolation layers.
FIXES = {
    "bubblewrap": "install bubblewrap: apt-get install bubblewrap (or bash setup.sh)",
    "privileges": "run verimath as root with CAP_KILL, CAP_SETUID, CAP_SETGID and CAP_SYS_ADMIN "
    "(docker run --cap-add KILL --cap-add SETUID --cap-add SETGID --cap-add SYS_ADMIN)",
    "filesystem": "install bubblewrap: apt-get install bubblewrap (or bash setup.sh)",
    "processes": "install bubblewrap: apt-get install bubblewrap (or bash setup.sh)",
    "network": "bubblewrap must be able to create a network namespace (see 'verimath doctor')",
    "seccomp": "install libseccomp: apt-get install libseccomp2 (or bash setup.sh)",
    "uid": "run verimath as root (as in its container) so that each session gets its own uid",
    "ipc": "run verimath as root with bubblewrap, whose server may then create namespaces",
    "scratch": "run verimath as root with bubblewrap, whose server may then mount file systems",
    "environment": "report this as a bug",
    "rlimits": "report this as a bug",
}
UNSAFE_HINT = (
    "to run model code without it anyway, pass --unsafe-no-sandbox "
    "(VERIMATH_UNSAFE_NO_SANDBOX=1, Interpreter(unsafe_no_sandbox=True))"
)


class SandboxDegradedWarning(RuntimeWarning):
    """Some isolation layer is off; the message names which and why."""


def pool_size_from_environment(default: int) -> int:
    """The session pool size ``VERIMATH_SESSION_POOL`` asks for (0: none), else ``default``."""
    text = os.environ.get(POOL_ENV, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ConfigError(f"{POOL_ENV}={text!r} is not a pool size: set it to 0 (off) or more")
    return int(text)


def unsafe_from_environment() -> bool:
    """Whether ``VERIMATH_UNSAFE_NO_SANDBOX`` asks to run without the sandbox."""
    return os.environ.get(UNSAFE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class Interpreter:
    """Sandboxed, stateful Python sessions forked from one preloaded server.

    Refuses to start (``SandboxUnavailableError``) when an isolation layer is off, unless the
    layer was turned off here by name (``use_bwrap``, ``seccomp``: announced with a
    ``SandboxDegradedWarning``) or ``unsafe_no_sandbox=True`` (default: the environment variable
    ``VERIMATH_UNSAFE_NO_SANDBOX``). ``strict=True`` refuses even the layers turned off by name.
    ``pool_size``: how many sessions to keep started ahead of need (``pool.SessionPool``).
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        unsafe_no_sandbox: bool | None = None,
        strict: bool = False,
        use_bwrap: bool = True,
        seccomp: bool = True,
        pool_size: int = 0,
    ) -> None:
        self.limits = limits or Limits()
        self.strict = strict
        self.unsafe_no_sandbox = (
            unsafe_from_environment() if unsafe_no_sandbox is None else unsafe_no_sandbox
        )
        self._use_bwrap = use_bwrap
        self._seccomp = seccomp
        self._turned_off = set()
        if not use_bwrap:
            self._turned_off |= {"bubblewrap", "filesystem", "processes"}
        if not seccomp:
            self._turned_off.add("seccomp")
        self._server: ServerProcess | None = None
        self._lock = threading.Lock()
        self._sids = itertools.count(1)
        self._closed = False
        if pool_size < 0:
            raise ConfigError(f"pool_size must be 0 (no pool) or more, got {pool_size}")
        self._pool: SessionPool[_Process] = SessionPool(self._start_pooled, pool_size)

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

    def session(self, seed: int | None = None) -> Session:
        """A new notebook session; its process starts with its first cell. ``seed`` seeds its
        random generators (stdlib, NumPy's global, SymPy's); None: a fresh random seed."""
        if self._closed:
            raise SandboxUnavailableError("this interpreter has been closed; create a new one")
        return Session(self, seed)

    def close(self) -> None:
        """End every session, the pool's processes and the server."""
        self._pool.close()
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
                self.limits,
                use_bwrap=self._use_bwrap,
                seccomp=self._seccomp,
                allow_unsandboxed=self.unsafe_no_sandbox and not self.strict,
            )
            self._announce(self._server.layers)
        return self._server

    def _announce(self, layers: tuple[Layer, ...]) -> None:
        off = [layer for layer in layers if not layer.active]
        refused = [
            layer
            for layer in off
            if layer.name in FIXES
            and (self.strict or not (self.unsafe_no_sandbox or layer.name in self._turned_off))
        ]
        if refused:
            self._drop_server()
            raise SandboxUnavailableError(refusal(refused))
        if not off:
            return
        text = "; ".join(f"{layer.name} ({layer.detail})" for layer in off)
        warnings.warn(
            f"UNSAFE: verimath runs model code with sandbox layers OFF: {text}. "
            "Run 'verimath doctor' for details.",
            SandboxDegradedWarning,
            stacklevel=4,
        )

    def _drop_server(self) -> None:
        """Stop the server, if any, and forget it (the caller holds the lock)."""
        if self._server is not None:
            self._pool.drain()  # their server goes: not to be handed out
            _stop_server(self._server)
            self._server = None

    def _control(
        self, request: ControlRequest, fds: list[int] | None = None
    ) -> tuple[ControlReply, list[int]]:
        """One request/reply on the control socket; restarts a dead server once."""
        with self._lock:
            for attempt in (1, 2):
                server = self._ensure_server()
                try:
                    return _exchange(server, request, fds or [])
                except (OSError, EOFError, ValueError) as exc:
                    if attempt == 2 or request["op"] != "spawn":
                        raise SandboxUnavailableError(
                            f"the sandbox server failed during {request['op']!r}: {exc}. "
                            f"Its log:\n{server.log_tail()}"
                        ) from exc
                    self._drop_server()
        raise AssertionError("unreachable")

    def _spawn(self, fds: list[int], seed: int) -> tuple[int, int]:
        """Start a session's process on the given pipes; its sid and a pidfd for it."""
        sid = next(self._sids)
        lease: UidLease | None = lease_uid() if os.geteuid() == 0 else None
        request: SpawnRequest = {
            "op": "spawn",
            "sid": sid,
            "uid": lease.uid if lease else os.getuid(),
            "seed": seed,
            "limits": self.limits.for_session(),
        }
        try:
            reply, pidfds = self._control(request, fds + ([lease.fd] if lease else []))
        finally:
            if lease:
                lease.hand_over()  # the server holds its copy until the session is reaped
        if "pid" not in reply or len(pidfds) != 1:
            for fd in pidfds:
                os.close(fd)
            raise SandboxUnavailableError(f"could not start a session: {reply.get('error')}")
        return sid, pidfds[0]

    def _start_pooled(self) -> _Process:
        """A process for the pool: seeded at random now, reseeded by its first cell."""
        return start_process(self, secrets.randbits(63))

    def _take_pooled(self) -> _Process | None:
        return self._pool.take()

    def _log_tail(self) -> str:
        return self._server.log_tail() if self._server is not None else ""

    def _exit_reason(self, sid: int) -> str:
        """Why a session's process ended, as the server saw it reap the process."""
        if not self._server_alive():
            return "the sandbox server stopped; every session ended"
        try:
            reply, _ = self._control({"op": "status", "sid": sid})
        except SandboxUnavailableError as exc:
            return str(exc).splitlines()[0]
        return escape_controls(str(reply.get("exit") or reply.get("error", "unknown")))

    def _server_alive(self) -> bool:
        return self._server is not None and self._server.process.poll() is None


def refusal(layers: list[Layer]) -> str:
    """The one line that refuses to run with ``layers`` off: what is off, the fix, the way out."""
    first = layers[0]
    detail = first.detail.splitlines()[0] if first.detail else "off"
    also = f" (also off: {', '.join(layer.name for layer in layers[1:])})" if layers[1:] else ""
    return (
        f"the sandbox's {first.name} layer is off ({detail}){also}: {FIXES[first.name]}. "
        f"Run 'verimath doctor' to check every layer; {UNSAFE_HINT}."
    )


def _exchange(
    server: ServerProcess, request: ControlRequest, fds: list[int]
) -> tuple[ControlReply, list[int]]:
    payload = json.dumps(request).encode()
    if fds:
        socket.send_fds(server.control, [payload], fds)
    else:
        server.control.send(payload)
    ready = _readable([server.control.fileno()], CONTROL_TIMEOUT_S)
    if not ready:
        raise TimeoutError(f"no answer within {CONTROL_TIMEOUT_S:g} s")
    data, reply_fds, _, _ = socket.recv_fds(server.control, 1 << 16, 1)
    if not data:
        raise EOFError("the server closed its control socket")
    reply: ControlReply = json.loads(data)  # the server's: trusted, unlike a session's frames
    if not isinstance(reply, dict):
        raise ValueError(f"the server answered {type(reply).__name__}, not an object")
    return reply, reply_fds


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
        remove_tree(server.host_scratch)


class Session:
    """One notebook: cells share variables until the session is closed or ends.

    The session's process reads its requests from one pipe and writes to two: its output
    (descriptors 1 and 2), which is read here as untrusted bytes and capped, and a status pipe,
    on which all it can say is how each cell ended. Between cells nothing of the process runs:
    it is asleep reading its next request, or else stopped (SIGSTOP) until then.
    """

    def __init__(self, interpreter: Interpreter, seed: int | None = None) -> None:
        self._interpreter = interpreter
        self.seed = secrets.randbits(63) if seed is None else seed
        """Seeds the random generators of this session's process (of each, if it restarts)."""
        self._limits = interpreter.limits
        self._process: _Process | None = None
        self._ended_because: str | None = None
        self._restart_reason: str | None = None
        self._reseed = False  # a pool's process: its first cell carries this session's seed
        self.cell_count = 0

    def run(self, code: str, timeout: float | None = None) -> CellResult:
        """Run one cell and wait for it; never raises for anything the code does."""
        cell = self._send(code, timeout)
        if isinstance(cell, CellResult):
            return cell
        process = cell.process
        while True:
            watched = [process.status_fd] + ([process.output_fd] if process.output_open else [])
            ready = _readable(watched, LIMIT_POLL_S)
            if process.output_fd in ready:
                cell.pump_output()
            if process.status_fd in ready:
                outcome = cell.read_status()
                if outcome is not _PENDING:
                    return self._finish(cell, outcome, timed_out=False)
            if cell.overdue():  # checked even while output streams in
                return self._finish(cell, None, timed_out=True)

    async def arun(self, code: str, timeout: float | None = None) -> CellResult:
        """Run one cell, awaiting its result on the running event loop."""
        if self._process is None:  # forking a session takes milliseconds: not on the event loop
            await asyncio.to_thread(self._ensure_started)
        cell = self._send(code, timeout)
        if isinstance(cell, CellResult):
            return cell
        process = cell.process
        loop = asyncio.get_running_loop()
        done: asyncio.Future[object] = loop.create_future()

        def on_status() -> None:
            outcome = cell.read_status()
            if outcome is not _PENDING and not done.done():
                done.set_result(outcome)

        def on_output() -> None:
            if not cell.pump_output(1, LOOP_READ_BYTES):
                loop.remove_reader(process.output_fd)

        loop.add_reader(process.status_fd, on_status)
        loop.add_reader(process.output_fd, on_output)
        try:
            while True:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that arrives as the cell finishes, leaving a cancelled run
                # waiting forever; shield: a poll's timeout must not cancel the status
                try:
                    async with asyncio.timeout(LIMIT_POLL_S):
                        outcome = await asyncio.shield(done)
                    break
                except TimeoutError:
                    if cell.overdue():
                        return self._finish(cell, None, timed_out=True)
        finally:
            loop.remove_reader(process.status_fd)
            loop.remove_reader(process.output_fd)
        return self._finish(cell, outcome, timed_out=False)

    def close(self) -> None:
        """End the session's process (its variables are gone)."""
        if self._process is not None:
            self._process.kill()
            self._process.close()
            self._process = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> None:
        pooled = self._interpreter._take_pooled()
        self._reseed = pooled is not None
        self._process = pooled or start_process(self._interpreter, self.seed)

    def _ensure_started(self) -> None:
        """Start the session's process if it has none (first cell, or after it ended)."""
        if self._process is None:
            self._restart_reason, self._ended_because = self._ended_because, None
            self._start()

    def _send(self, code: str, timeout: float | None) -> _PendingCell | CellResult:
        self._ensure_started()
        assert self._process is not None
        restarted_because, self._restart_reason = self._restart_reason, None
        self.cell_count += 1
        soft = timeout if timeout is not None else self._limits.timeout_s
        wait = soft * self._limits.wait_factor
        cell = _PendingCell(
            self._process,
            self.cell_count,
            soft,
            wait,
            self._limits.grace_s,
            restarted_because,
            self._limits.max_output_chars,
        )
        try:
            self._process.resume()
            request: CellRequest = {"code": code, "timeout": soft, "wait": wait}
            if self._reseed:
                request["seed"], self._reseed = self.seed, False
            write_all(self._process.requests_fd, encode_frame(request))
        except OSError:
            return self._finish(cell, None, timed_out=False)
        return cell

    def _finish(self, cell: _PendingCell, outcome: object, *, timed_out: bool) -> CellResult:
        """The CellResult of a cell: from its status, or ``killed`` with the reason."""
        duration = time.monotonic() - cell.started
        prefix = _restart_note(cell.restarted_because)
        restarted = cell.restarted_because is not None
        if isinstance(outcome, dict):
            cell.process.hold()  # from now on nothing of the cell runs, even if its status lied
            try:
                status = _check_status(outcome)
            except ProtocolError as exc:
                outcome = str(exc)
            else:
                cell.drain_output()
                output, cpu_s = cell.capture.render(), cell.cpu_used()
                lingering = cell.process.lingering_threads(outcome.get("threads", []))
                if not lingering:
                    return CellResult(
                        prefix + output, status, duration, cell.index, restarted, cpu_s=cpu_s
                    )
                reason = f"the cell left {lingering}, so its session was ended"
                self._end_session(reason)
                output += f"\n[note: {lingering}; the session was ended so that they stop]\n"
                return CellResult(
                    prefix + output, status, duration, cell.index, restarted, reason, cpu_s
                )
        reason = self._end_reason(cell, outcome, timed_out=timed_out)
        cell.drain_output()
        cpu_s = cell.cpu_used()
        self._end_session(reason)
        output = prefix + cell.capture.render() + _ended_note(reason)
        return CellResult(output, CellStatus.KILLED, duration, cell.index, restarted, reason, cpu_s)

    def _end_reason(self, cell: _PendingCell, outcome: object, *, timed_out: bool) -> str:
        """Why a cell's session ends; the process is dead (or killed) when this returns."""
        if timed_out:
            cell.process.kill()
            return (
                f"the cell did not stop at its {cell.soft_limit_s:g} s time limit (CPU time; "
                f"{cell.wait_limit_s:g} s wall-clock) nor within {cell.grace_s:g} s more, so its "
                "session was killed"
            )
        if isinstance(outcome, str):
            cell.process.kill()
            return f"the session broke the protocol ({outcome[:200]}), so it was killed"
        # the status pipe closed: the server saw the process end (or kills it, if it lingers)
        return self._interpreter._exit_reason(cell.process.sid)

    def _end_session(self, reason: str) -> None:
        self.close()
        self._ended_because = reason


def _readable(fds: list[int], timeout_s: float) -> list[int]:
    """Those of ``fds`` that are readable (or closed) within ``timeout_s``; poll, not select,
    because a process serving many sessions has descriptors above select's 1023."""
    waiting = select.poll()
    for fd in fds:
        waiting.register(fd, select.POLLIN)
    return [fd for fd, _ in waiting.poll(timeout_s * 1000)]


def start_process(interpreter: Interpreter, seed: int) -> _Process:
    """Fork a session's process, sandboxed, seeded, idle until its first cell."""
    requests_read, requests_write = os.pipe2(os.O_CLOEXEC)
    status_read, status_write = os.pipe2(os.O_CLOEXEC)
    output_read, output_write = os.pipe2(os.O_CLOEXEC)
    with contextlib.suppress(OSError):
        fcntl.fcntl(output_read, F_SETPIPE_SZ, OUTPUT_PIPE_BYTES)
    ours = (requests_write, status_read, output_read)
    try:
        sid, pidfd = interpreter._spawn([requests_read, status_write, output_write], seed)
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in (requests_read, status_write, output_write):
            os.close(fd)
    process = _Process(sid, pidfd, *ours)
    _await_ready(interpreter, process)
    return process


def _await_ready(interpreter: Interpreter, process: _Process) -> None:
    """Wait for the child's word that its sandbox is in place, then stop it until needed."""
    decoder = FrameDecoder(MAX_STATUS_BYTES)
    deadline = time.monotonic() + CONTROL_TIMEOUT_S
    problem = "no answer"
    status = select.poll()  # not select(): a process serving many sessions has fds > 1023
    status.register(process.status_fd, select.POLLIN)
    while (remaining := deadline - time.monotonic()) > 0:
        status.poll(remaining * 1000)
        try:
            data = os.read(process.status_fd, MAX_STATUS_BYTES)
            messages = decoder.feed_messages(data)
        except BlockingIOError:
            continue
        except ProtocolError as exc:
            problem = str(exc)
            break
        if messages == [{"ready": True}]:
            process.hold()
            return
        problem = "it ended during start-up" if not data else "an unexpected first message"
        if messages or not data:
            break
    reason = interpreter._exit_reason(process.sid) if problem != "no answer" else ""
    process.discard()
    raise SandboxUnavailableError(
        f"a sandbox session failed to start ({problem}{'; ' + reason if reason else ''}). "
        f"Server log:\n{interpreter._log_tail()}\n"
        "Run 'verimath doctor' to see which layer fails."
    )


def _check_status(message: dict[str, Any]) -> CellStatus:
    """The status a child reported for its cell; ProtocolError for anything else."""
    if set(message) - {"status", "threads"} or message.get("status") not in CHILD_STATUSES:
        raise ProtocolError("an unexpected status message")
    threads = message.get("threads", [])
    if not isinstance(threads, list) or len(threads) > 1000:
        raise ProtocolError("an unexpected list of threads")
    return CellStatus(message["status"])


class _Process:
    """A session's process as the host holds it: a pidfd and the three pipes."""

    def __init__(
        self, sid: int, pidfd: int, requests_fd: int, status_fd: int, output_fd: int
    ) -> None:
        self.sid = sid
        self.pidfd = pidfd
        self.requests_fd = requests_fd
        self.status_fd = status_fd
        self.output_fd = output_fd
        self.output_open = True
        self.pid = _pid_of(pidfd)
        self._stat_fd = os.open(f"/proc/{self.pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
        self._wchan_fd = os.open(f"/proc/{self.pid}/wchan", os.O_RDONLY | os.O_CLOEXEC)
        self._task_fd = -1  # opened when the process first has more than one thread
        self.stopped = False
        os.set_blocking(status_fd, False)
        os.set_blocking(output_fd, False)

    def cpu_s(self) -> float:
        """CPU time of the process (all its threads), as the kernel counts it."""
        return process_cpu_s(self.pid)

    def _stat(self) -> tuple[str, int]:
        """The process's state letter and its number of threads, from /proc/PID/stat."""
        try:
            fields = os.pread(self._stat_fd, 4096, 0).rpartition(b")")[2].split()
            return fields[0].decode(), int(fields[17])  # the 3rd and 20th fields
        except (OSError, ValueError, IndexError):
            return "?", 1

    def hold(self) -> None:
        """Make sure nothing of the process runs until the next cell. One asleep in a pipe read
        (its requests) with no other thread is idle; any other (a cell that said it ended but
        did not, a thread left behind) is stopped with SIGSTOP until ``resume``. Checking first
        spares the usual case two wake-ups."""
        state, threads = self._stat()
        if state == "S" and threads == 1:
            with contextlib.suppress(OSError):
                if b"pipe" in os.pread(self._wchan_fd, 256, 0):
                    return
        self._signal(signal.SIGSTOP)
        self.stopped = True

    def lingering_threads(self, names: list[Any]) -> str:
        """``"2 thread(s) still running (a, b)"`` when the process has threads besides its main
        one that can still run code: running, sleeping or stopped, not exiting (the names are
        the child's word, shown escaped; the count is the kernel's, ``tasks.may_run``)."""
        count = self._threads_that_may_run() if self._stat()[1] > 1 else 0
        if count <= 0:
            return ""
        shown = [escape_controls(name)[:40] for name in names[:8] if isinstance(name, str)]
        return f"{count} thread(s) still running" + (f" ({', '.join(shown)})" if shown else "")

    def _threads_that_may_run(self) -> int:
        """How many threads besides the main one can still run code (unreadable: all)."""
        try:
            self._open_tasks()
            others = [tid for tid in thread_ids(self._task_fd) if tid != self.pid]
        except OSError:
            return self._stat()[1] - 1
        return sum(1 for tid in others if _may_run(self._task_fd, tid))

    def alive(self) -> bool:
        """Whether the process has not exited (its pidfd is not yet readable)."""
        try:
            return not _readable([self.pidfd], 0)
        except (OSError, ValueError):
            return False

    def discard(self) -> None:
        """Kill the process and close what the host holds of it."""
        self.kill()
        self.close()

    def _open_tasks(self) -> None:
        """Open /proc/PID/task once: alive after the open (the pidfd says so), the pid was
        still this process's, not reused; else OSError, and the caller counts by stat."""
        if self._task_fd >= 0:
            return
        path = f"/proc/{self.pid}/task"
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        if not self.alive():
            os.close(fd)
            raise ProcessLookupError(f"session process {self.pid} has ended")
        self._task_fd = fd

    def resume(self) -> None:
        if self.stopped:
            self._signal(signal.SIGCONT)
            self.stopped = False

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, number: int) -> None:
        send_signal(self.pidfd, number)

    def close(self) -> None:
        own = (self.requests_fd, self.status_fd, self.output_fd, self.pidfd)
        for fd in (*own, self._stat_fd, self._wchan_fd, self._task_fd):  # -1: EBADF, ignored
            with contextlib.suppress(OSError):
                os.close(fd)


SYS_PIDFD_SEND_SIGNAL = 424  # the same number on every architecture
_LIBC = ctypes.CDLL(None, use_errno=True)
_syscall = _LIBC.syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint]


def send_signal(pidfd: int, number: int) -> None:
    """``pidfd_send_signal`` without holding the GIL (through ctypes, which releases it), so
    that stopping or ending a session does not stall the host's other threads; a process
    already gone is no error."""
    if _syscall(SYS_PIDFD_SEND_SIGNAL, pidfd, number, None, 0) == 0:
        return
    error = ctypes.get_errno()
    if error != errno.ESRCH:
        raise OSError(error, f"pidfd_send_signal({number}): {os.strerror(error)}")


def _may_run(task_fd: int, tid: int) -> bool:
    try:
        return may_run(task_fd, tid)
    except OSError:
        return True  # a thread the kernel does not describe is not known to have stopped


def _pid_of(pidfd: int) -> int:
    """The pid, in the host's PID namespace, of the process a pidfd refers to."""
    with open(f"/proc/self/fdinfo/{pidfd}") as info:
        for line in info:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    raise SandboxUnavailableError("this kernel does not say which process a pidfd refers to")


_PENDING = object()
LIMIT_POLL_S = 0.25
"""How often the host checks a running cell's CPU and wall-clock time against its limits."""


class _PendingCell:
    """A cell sent to its session: its output so far, its status decoder, its CPU mark."""

    def __init__(
        self,
        process: _Process,
        index: int,
        soft_limit_s: float,
        wait_limit_s: float,
        grace_s: float,
        restarted_because: str | None,
        max_output_chars: int,
    ) -> None:
        self.process = process
        self.index = index
        self.soft_limit_s = soft_limit_s
        """CPU seconds after which the cell interrupts itself."""
        self.wait_limit_s = wait_limit_s
        """Wall-clock seconds after which the cell interrupts itself."""
        self.grace_s = grace_s
        self.restarted_because = restarted_because
        self.started = time.monotonic()
        self.cpu_mark = process.cpu_s()
        self.capture = OutputCapture(max_output_chars)
        self.statuses = FrameDecoder(MAX_STATUS_BYTES)

    def cpu_used(self) -> float:
        return max(0.0, self.process.cpu_s() - self.cpu_mark)

    def overdue(self) -> bool:
        """Whether the cell ran ``grace_s`` past either of its limits without stopping: then
        its session is killed (a cell that ignores its interruption, or is stuck in C code)."""
        waited = time.monotonic() - self.started
        return (
            waited >= self.wait_limit_s + self.grace_s
            or self.cpu_used() >= self.soft_limit_s + self.grace_s
        )

    def pump_output(self, chunks: int = PUMP_CHUNKS, chunk_bytes: int = READ_CHUNK) -> bool:
        """Read what the cell wrote so far, at most ``chunks`` reads of ``chunk_bytes`` (a fast
        writer must not keep the caller from its deadline); False once the pipe has closed."""
        for _ in range(chunks):
            if not self.process.output_open:
                return False
            try:
                data = os.read(self.process.output_fd, chunk_bytes)
            except BlockingIOError:
                return True
            except OSError:
                data = b""
            if not data:
                self.process.output_open = False
                return False
            self.capture.feed(data)
        return self.process.output_open

    def drain_output(self) -> None:
        """Read what the cell wrote before its status or its end (it is all in the pipe; the
        process is stopped or dead by now, so this ends)."""
        self.pump_output(DRAIN_CHUNKS)

    def read_status(self) -> object:
        """The cell's status message, None at end of file, a str naming a protocol violation,
        or _PENDING."""
        while True:
            try:
                data = os.read(self.process.status_fd, MAX_STATUS_BYTES)
            except BlockingIOError:
                return _PENDING
            except OSError as exc:
                return f"its status could not be read ({exc})"
            if not data:
                return None
            try:
                messages = self.statuses.feed_messages(data)
            except ProtocolError as exc:
                return str(exc)
            if messages:
                return messages[0] if len(messages) == 1 else "more than one status for one cell"


def _ended_note(reason: str) -> str:
    return f"\n[session ended: {reason}; variables from earlier cells are lost]"


def _restart_note(reason: str | None) -> str:
    if reason is None:
        return ""
    return "[new session: the previous one ended, so variables from earlier cells are gone]\n"
