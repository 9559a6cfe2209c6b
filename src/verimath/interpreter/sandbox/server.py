"""The fork server: imports the heavy libraries once, forks one child per session.

Runs inside the sandbox (bubblewrap) as PID 1 of its PID namespace, so its death ends every
session. The host talks to it over a SOCK_SEQPACKET control socket. Each session child gets the
three pipes the host made for it (SCM_RIGHTS): requests to read, a status pipe on which it may
only say how each cell ended, and an output pipe as its descriptors 1 and 2. The host reads,
checks and caps everything that comes out of them, and measures the child's CPU time and threads
itself, through the pidfd the server sends back. No descriptor of the server, of the host's
protocol or of another session reaches a child. Session content cannot make the server raise:
every event is handled inside ``try``.

Each child gets its own mount, IPC and PID namespaces (it is PID 1 of its own and its ``/proc``
shows that one process only, nothing of the host), a private tmpfs as its scratch directory
(sized, with an inode limit, gone with the child), its own unprivileged uid (leased by the host
so that it is unique on the machine; the server holds the lease until it has reaped the child,
then removes its lock file), rlimits, the seccomp filter, random generators seeded from the
seed the host chose for it, and SIGKILL when the server dies.

At start the server reads its own capabilities: switching uids needs CAP_SETUID and
CAP_SETGID, ending sessions of other uids CAP_KILL, namespaces and mounts CAP_SYS_ADMIN. A
missing one turns off the layers that need it and is reported (the host refuses to run then).

Control requests (one JSON datagram each, answered by one datagram):
``spawn`` {sid, uid, seed, limits} + fds [requests, status, output, uid lease?] -> {pid} + [pidfd]
``kill`` {sid} -> {exit}; ``status`` {sid} -> {exit} (why it ended; kills a silent child);
``shutdown``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import importlib
import json
import os
import resource
import selectors
import signal
import socket
import sys
import time
import traceback
from typing import Any

from .files import remove_tree
from .notebook import Notebook, seed_generators, serve
from .protocol import (
    ControlReply,
    ControlRequest,
    Hello,
    LayerReport,
    ServerConfig,
    SessionLimits,
    SpawnRequest,
)

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
PR_SET_PDEATHSIG = 1
CAPABILITIES = {"CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SYS_ADMIN": 21}
# A session's /proc: its own PID namespace's processes (itself) and nothing else: no entry
# describing the host (key-users, meminfo, loadavg, stat, ...), no process of another uid.
SESSION_PROC_OPTIONS = b"hidepid=invisible,subset=pid"
POLL_INTERVAL_S = 0.2  # how soon an ended child is reaped and its uid lease released
MAX_DATAGRAM = 1 << 16
STATUS_WAIT_S = 0.05
CHILD_REQUESTS_FD, CHILD_STATUS_FD, CHILD_SAVED_OUTPUT_FD, CHILD_LOG_FD = 3, 4, 5, 6
SIGNAL_MEANING = {
    signal.SIGXCPU: "the session's CPU time limit was reached",
    signal.SIGSEGV: "the process crashed (segmentation fault)",
    signal.SIGKILL: "the process was killed",
    signal.SIGXFSZ: "the file size limit was reached",
    signal.SIGABRT: "the process aborted",
}


def describe_exit(status: int, cpu_limit_reached: bool = False) -> str:
    """A sentence for a ``waitpid`` status (a session, PID 1 of its namespace, ignores the
    SIGXCPU of its soft CPU limit: the kernel's SIGKILL at the hard limit ends it)."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if cpu_limit_reached and number in (signal.SIGKILL, signal.SIGXCPU):
            return f"{SIGNAL_MEANING[signal.SIGXCPU]} ({signal.Signals(number).name})"
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        meaning = SIGNAL_MEANING.get(signal.Signals(number), "the process was terminated")
        return f"{meaning} ({name})"
    return f"the process exited with status {os.WEXITSTATUS(status)}"


def log(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"verimath sandbox server: {message}", file=sys.stderr, flush=True)


class Slot:
    """What the server keeps of one session: its process, scratch and uid lease."""

    def __init__(self, sid: int, limits: SessionLimits, lease: int, seed: int) -> None:
        self.sid = sid
        self.limits = limits
        self.lease = lease
        self.seed = seed
        self.uid = -1
        self.pid = 0
        self.scratch = ""
        self.mapped = 0  # the server's address space at the fork
        self.exit: str | None = None


class ForkServer:
    """State of the server: the control socket, the prepared filter, the live sessions."""

    def __init__(self, config: ServerConfig, control: socket.socket) -> None:
        self.config = config
        self.control = control
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
        self.layers: dict[str, LayerReport] = {}
        self.seccomp_filter: Any = None
        self.devnull = -1  # opened once; each child makes it its descriptor 0
        self.max_fds = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        self.notebook_libc: ctypes.CDLL | None = None
        self.server_pid = os.getpid()
        self.own_namespaces = False
        self.switch_uid = False
        self.own_pid_ns: int | None = None  # a descriptor of the server's PID namespace
        self.slots: dict[int, Slot] = {}  # sid -> slot, until the child is reaped
        self.by_pid: dict[int, Slot] = {}
        self.selector = selectors.DefaultSelector()
        self.running = True

    # -- start-up ------------------------------------------------------------------------------

    def prepare(self) -> None:
        if self.config.get("unshare_net"):
            self._unshare_network()
        self._preload(self.config.get("preload", []))
        self._warm_up(self.config.get("warmup", ""))
        seed_generators(0)  # its first call loads what it needs: once here, not in every session
        self._build_seccomp()
        root = os.geteuid() == 0
        missing = self._check_privileges(root)
        self._check_uid(root, missing)
        self._check_namespaces(root and "CAP_SYS_ADMIN" not in missing)
        os.makedirs(self.config["scratch_root"], mode=0o755, exist_ok=True)
        self._prepare_inherited()
        gc.freeze()  # children share the preloaded heap copy-on-write; keep the GC off it

    def _prepare_inherited(self) -> None:
        """What every child inherits instead of building it: /dev/null open, an empty
        environment (a session adds its HOME and TMPDIR), the notebook's C library handle."""
        self.statm = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        self.devnull = fcntl.fcntl(os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC), fcntl.F_DUPFD, 64)
        os.environ.clear()  # the server reads none of it after start-up
        # the server never writes past a file size limit: its children inherit the disposition
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        for name in ("prctl", "unshare", "setns"):  # resolved once, not in each child
            getattr(self.libc, name)
        self.notebook_libc = ctypes.CDLL(None)
        self.notebook_libc.fflush  # noqa: B018  (resolved here, not in each child)

    def _mapped_bytes(self) -> int:
        """The server's mapped address space, which a child has at its fork: read here, the
        child reads no file for its address-space limit."""
        return int(os.pread(self.statm, 64, 0).split()[0]) * os.sysconf("SC_PAGE_SIZE")

    def _check_privileges(self, root: bool) -> list[str]:
        """The capabilities the layers need that the server lacks, reported as a layer."""
        missing = [name for name, number in CAPABILITIES.items() if not _has_capability(number)]
        if not self.config.get("host_can_kill", True):
            missing.append("CAP_KILL (host)")
        names = ", ".join(CAPABILITIES)
        if not root:
            detail = f"not root (uid {os.geteuid()}): the server has none of {names}"
        elif missing:
            detail = f"missing {', '.join(missing)}; the layers need {names}"
        else:
            detail = f"host: CAP_KILL; server: {names}"
        self.layers["privileges"] = {"active": root and not missing, "detail": detail}
        return missing if root else list(CAPABILITIES)

    def _check_uid(self, root: bool, missing: list[str]) -> None:
        needed = [name for name in missing if name.startswith(("CAP_SETUID", "CAP_SETGID"))]
        # without CAP_KILL (the server's or the host's) a session of another uid could not
        # be stopped: sessions then keep the server's uid, and the uid layer says why
        needed += [name for name in missing if name.startswith("CAP_KILL")]
        self.switch_uid = root and not needed
        if self.switch_uid:
            detail = "each session runs as its own unprivileged uid, unique on this machine"
        elif not root:
            detail = f"sessions keep the server's uid {os.geteuid()} (not root: cannot switch uid)"
        else:
            detail = f"sessions keep uid 0: missing {', '.join(needed)}"
        self.layers["uid"] = {"active": self.switch_uid, "detail": detail}

    def _check_namespaces(self, root: bool) -> None:
        self.own_namespaces = root
        if root:
            self.own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        why = "" if self.own_namespaces else "off: needs root with CAP_SYS_ADMIN in the sandbox"
        scratch = f"own tmpfs per session ({self.config['scratch_mb']} MiB, "
        scratch += f"{self.config['scratch_inodes']} inodes), gone when the session ends"
        self.layers["scratch"] = {"active": self.own_namespaces, "detail": why or scratch}
        ipc = "own IPC namespace per session; SysV/POSIX IPC and memfd denied by seccomp"
        self.layers["ipc"] = {"active": self.own_namespaces, "detail": why or ipc}
        processes = "own PID namespace per session: its /proc shows itself only, no host entry"
        self.layers["processes"] = {"active": self.own_namespaces, "detail": why or processes}

    def _unshare_network(self) -> None:
        if self.libc.unshare(CLONE_NEWNET) == 0:
            self.layers["network"] = {"active": True, "detail": "own network namespace (unshare)"}
        else:
            error = os.strerror(ctypes.get_errno())
            self.layers["network"] = {"active": False, "detail": f"unshare failed: {error}"}

    def _preload(self, modules: list[str]) -> None:
        failed = []
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:  # a missing optional library must not stop the server
                failed.append(f"{name}: {exc}")
        self.layers["preload"] = {"active": not failed, "detail": "; ".join(failed) or "ok"}

    def _warm_up(self, code: str) -> None:
        """Run library code once so that every session inherits its lazy imports and caches."""
        try:
            exec(compile(code, "<warmup>", "exec"), {"__name__": "__warmup__"})
        except Exception as exc:  # a slower first cell is no reason to refuse to start
            self.layers["preload"]["detail"] += f"; warm-up failed: {exc}"

    def _build_seccomp(self) -> None:
        if not self.config.get("seccomp", True):
            self.layers["seccomp"] = {"active": False, "detail": "disabled by configuration"}
            return
        from .seccomp import SeccompFilter

        try:
            self.seccomp_filter = SeccompFilter.build(self.config.get("libseccomp"))
        except OSError as exc:
            self.layers["seccomp"] = {"active": False, "detail": str(exc)}
            return
        detail = "sockets, fork/exec, ptrace, IPC, memfd, page-cache eviction, sysinfo denied"
        self.layers["seccomp"] = {"active": True, "detail": detail}

    # -- the event loop ------------------------------------------------------------------------

    def serve(self) -> None:
        self.selector.register(self.control, selectors.EVENT_READ, (None, "control"))
        hello: Hello = {"op": "hello", "pid": os.getpid(), "layers": self.layers}
        self._send_control(hello)
        while self.running:
            for key, mask in self.selector.select(POLL_INTERVAL_S):
                self._dispatch(key.data, mask)
            self._guarded(None, self._reap)
        self._kill_all()

    def _dispatch(self, data: tuple[Slot | None, str], mask: int) -> None:
        self._guarded(None, getattr(self, f"_on_{data[1]}"))

    def _guarded(self, slot: Slot | None, handler: Any, *args: Any) -> None:
        """Run one event handler; a failure kills that session, never the server."""
        try:
            handler(*args)
        except Exception as exc:
            log(f"{handler.__name__} failed: {traceback.format_exc()}")
            if slot is not None and slot.pid:
                with contextlib.suppress(Exception):
                    self._kill(slot.sid, f"the sandbox server failed on this session ({exc!r})")

    def _on_control(self) -> None:
        data, fds, _, _ = socket.recv_fds(self.control, MAX_DATAGRAM, 4)
        if not data:
            self.running = False  # the host went away: end every session
            return
        reply_fds: list[int] = []
        try:
            request = json.loads(data)
            if request.get("op") == "shutdown":
                self.running = False
                return
            reply = self._handle(request, fds, reply_fds)
        except Exception as exc:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            self._send_control(reply, reply_fds)
        finally:
            for fd in reply_fds:
                os.close(fd)

    def _send_control(self, message: Hello | ControlReply, fds: list[int] | None = None) -> None:
        payload = json.dumps(message).encode()
        if fds:
            socket.send_fds(self.control, [payload], fds)
        else:
            self.control.send(payload)

    def _handle(
        self, request: ControlRequest, fds: list[int], reply_fds: list[int]
    ) -> ControlReply:
        sid = request["sid"]
        if not isinstance(sid, int):
            raise TypeError("sid must be an integer")
        if request["op"] == "spawn":
            pid = self._spawn(sid, request, fds)
            reply_fds.append(os.pidfd_open(pid))
            return {"pid": pid}
        for fd in fds:
            os.close(fd)
        if request["op"] == "kill":
            return {"exit": self._kill(sid, "the session was killed")}
        if request["op"] == "status":
            return {"exit": self._status(sid)}
        raise ValueError(f"unknown op {request['op']!r}")

    # -- sessions ------------------------------------------------------------------------------

    def _spawn(self, sid: int, request: SpawnRequest, fds: list[int]) -> int:
        if sid in self.slots or len(fds) not in (3, 4):
            raise ValueError(f"session {sid} exists or {len(fds)} descriptors passed")
        slot = Slot(sid, request["limits"], fds[3] if len(fds) == 4 else -1, int(request["seed"]))
        slot.uid = int(request["uid"])
        self.slots[sid] = slot
        try:
            self._fork(slot, slot.uid, (fds[0], fds[1], fds[2]))
        except BaseException:
            self._forget(slot)
            raise
        finally:
            for fd in fds[:3]:
                os.close(fd)
        self.by_pid[slot.pid] = slot
        return slot.pid

    def _fork(self, slot: Slot, uid: int, child_fds: tuple[int, int, int]) -> None:
        slot.scratch = os.path.join(self.config["scratch_root"], f"session-{slot.sid}")
        with contextlib.suppress(FileExistsError):
            os.mkdir(slot.scratch, 0o700)
        if not self.own_namespaces and self.switch_uid:
            os.chown(slot.scratch, uid, uid)
        server_pid = self.server_pid
        slot.mapped = self._mapped_bytes()
        pid = self._fork_in_own_pid_ns() if self.own_pid_ns is not None else os.fork()
        if pid == 0:
            code = 70
            try:
                self._become_session(slot, uid, child_fds, server_pid)
                code = 0
            except BaseException:
                with contextlib.suppress(BaseException):
                    os.write(CHILD_LOG_FD, traceback.format_exc().encode())
            finally:
                os._exit(code)
        slot.pid = pid

    def _fork_in_own_pid_ns(self) -> int:
        """fork(), the child being PID 1 of a new PID namespace; the server stays in its own."""
        assert self.own_pid_ns is not None
        if self.libc.unshare(CLONE_NEWPID) != 0:
            raise OSError(ctypes.get_errno(), "unshare(PID) failed")
        try:
            pid = os.fork()
        except BaseException:
            self._back_to_own_pid_ns()
            raise
        if pid:  # the server's next children are again in its own namespace, until the next
            self._back_to_own_pid_ns()
        return pid

    def _back_to_own_pid_ns(self) -> None:
        if self.libc.setns(self.own_pid_ns, CLONE_NEWPID) != 0:
            raise OSError(ctypes.get_errno(), "setns(PID) failed")

    def _become_session(
        self, slot: Slot, uid: int, child_fds: tuple[int, int, int], server_pid: int
    ) -> None:
        """In the child: isolate, drop privileges, then serve cells until the requests end."""
        _arrange_fds(
            child_fds, self.devnull, self.max_fds
        )  # first: until then, descriptor 6 may be another session's
        os.setsid()  # its own session, hence its own scheduling autogroup, as any other program
        # SIGXFSZ is ignored since the server's start-up: an oversized write fails with EFBIG
        limits = slot.limits
        if self.own_namespaces:
            self._private_scratch(slot.scratch, uid if self.switch_uid else os.geteuid(), limits)
            flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
            self._mount(b"proc", b"/proc", b"proc", flags, SESSION_PROC_OPTIONS)
        _apply_rlimits(limits, slot.mapped, switch_uid=self.switch_uid)
        if self.switch_uid:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        # after the uid change, which clears it: the session dies with its server
        self.libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != (0 if self.own_pid_ns is not None else server_pid):
            # the server died before the line above; in its own PID namespace the session sees
            # no parent (0), and under bubblewrap the server's death ends every namespace below
            os._exit(71)
        seed_generators(slot.seed)
        os.chdir(slot.scratch)
        os.environ.update(HOME=slot.scratch, TMPDIR=slot.scratch)  # cleared in the server
        if self.seccomp_filter is not None:
            self.seccomp_filter.load()
        os.close(CHILD_LOG_FD)
        serve(
            Notebook(CHILD_SAVED_OUTPUT_FD, self.notebook_libc), CHILD_REQUESTS_FD, CHILD_STATUS_FD
        )

    def _private_scratch(self, scratch: str, uid: int, limits: SessionLimits) -> None:
        if self.libc.unshare(CLONE_NEWNS | CLONE_NEWIPC) != 0:
            raise OSError(ctypes.get_errno(), "unshare(mount, IPC) failed")
        self._mount(None, b"/", None, MS_REC | MS_PRIVATE, None)  # nothing leaks back out
        size = limits["scratch_mb"] * 1024 * 1024
        options = f"size={size},nr_inodes={limits['scratch_inodes']},mode=0700,uid={uid},gid={uid}"
        self._mount(b"tmpfs", scratch.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode())

    def _mount(
        self,
        source: bytes | None,
        target: bytes,
        kind: bytes | None,
        flags: int,
        data: bytes | None,
    ) -> None:
        if self.libc.mount(source, target, kind, flags, data) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"mount {target!r} failed: {os.strerror(error)}")

    def _kill(self, sid: int, reason: str) -> str:
        slot = self.slots.get(sid)
        if slot is None:
            return "the session had already ended"
        if slot.exit is None:
            slot.exit = reason
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(slot.pid, signal.SIGKILL)
        return slot.exit

    def _status(self, sid: int) -> str:
        """Why a session's process ended; one that is still there after a moment is killed."""
        slot = self.slots.get(sid)
        if slot is None:
            return "the session had already ended"
        deadline = time.monotonic() + STATUS_WAIT_S
        while slot.sid in self.slots and time.monotonic() < deadline:
            self._reap_one(slot.pid, os.WNOHANG)
            time.sleep(0.001)
        if slot.sid in self.slots:
            self._kill(sid, "the session stopped answering, so it was killed")
            self._reap_one(slot.pid, 0)
        return slot.exit or "the session ended"

    def _reap(self) -> None:
        while self.by_pid:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._reaped(pid, status, usage)

    def _reap_one(self, pid: int, flags: int) -> None:
        try:
            reaped, status, usage = os.wait4(pid, flags)
        except ChildProcessError:
            return
        if reaped:
            self._reaped(reaped, status, usage)

    def _reaped(self, pid: int, status: int, usage: resource.struct_rusage) -> None:
        slot = self.by_pid.pop(pid, None)
        if slot is not None:
            if slot.exit is None:
                cpu_s = usage.ru_utime + usage.ru_stime
                slot.exit = describe_exit(status, cpu_s >= slot.limits["cpu_s"])
            slot.pid = 0
            self._guarded(None, self._forget, slot)

    def _forget(self, slot: Slot) -> None:
        """Drop a reaped (or never started) session; its uid lease goes with the descriptor."""
        self.slots.pop(slot.sid, None)
        if slot.lease >= 0:
            lease_dir = self.config.get("lease_dir")
            if lease_dir:  # unlinked while still locked: the next taker gets a fresh file
                _unlink_if_same(os.path.join(lease_dir, f"{slot.uid}.lock"), slot.lease)
            os.close(slot.lease)
            slot.lease = -1
        if slot.scratch and self.own_namespaces:
            with contextlib.suppress(OSError):
                os.rmdir(slot.scratch)  # only the empty mount point: the tmpfs died with the child
        elif slot.scratch:
            remove_tree(slot.scratch)

    def _kill_all(self) -> None:
        for pid in list(self.by_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in list(self.by_pid):
            with contextlib.suppress(Exception):
                self._reap_one(pid, 0)


def _unlink_if_same(path: str, fd: int) -> None:
    """Unlink ``path`` if it still names the file open as ``fd``."""
    with contextlib.suppress(OSError):
        named, held = os.lstat(path), os.fstat(fd)
        if (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino):
            os.unlink(path)


def _has_capability(number: int) -> bool:
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("CapEff:"))
    except (OSError, StopIteration):
        return False
    return bool(int(line.split()[1], 16) >> number & 1)


def _arrange_fds(child_fds: tuple[int, int, int], devnull: int, max_fds: int) -> None:
    """Descriptors of a session child: 0 /dev/null, 1 and 2 output, 3 requests, 4 status,
    5 a spare copy of the output pipe, 6 the server's log until the notebook starts."""
    requests_fd, status_fd, output_fd = (fcntl.fcntl(fd, fcntl.F_DUPFD, 64) for fd in child_fds)
    log_fd = fcntl.fcntl(2, fcntl.F_DUPFD, 64)
    for source, target in (
        (devnull, 0),
        (output_fd, 1),
        (output_fd, 2),
        (requests_fd, CHILD_REQUESTS_FD),
        (status_fd, CHILD_STATUS_FD),
        (output_fd, CHILD_SAVED_OUTPUT_FD),
        (log_fd, CHILD_LOG_FD),
    ):
        os.dup2(source, target)  # dup2 clears close-on-exec, which no exec will ever need
    os.closerange(CHILD_LOG_FD + 1, max_fds)


def _apply_rlimits(limits: SessionLimits, mapped: int, *, switch_uid: bool) -> None:
    mib = 1024 * 1024
    address_space = mapped + limits["memory_mb"] * mib
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    file_size = limits["file_size_mb"] * mib
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if switch_uid:  # RLIMIT_NPROC counts per uid and does not bind root
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))


def main(argv: list[str]) -> None:
    config: ServerConfig = json.loads(argv[1])
    control = socket.socket(fileno=config["control_fd"])
    server = ForkServer(config, control)
    server.prepare()
    server.serve()


if __name__ == "__main__":
    main(sys.argv)
