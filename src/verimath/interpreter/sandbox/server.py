"""The fork server: imports the heavy libraries once, then forks one child per session.

Runs inside the sandbox (bubblewrap) as the only process the host talks to directly, over a
SOCK_SEQPACKET control socket. Each session child gets its own pipes (passed by the host with
SCM_RIGHTS), its own scratch directory, its own unprivileged uid, rlimits and the seccomp filter,
and then runs a ``Notebook`` until its request pipe closes.

Control requests (one JSON datagram each, answered by one datagram):
``spawn`` {sid, uid, limits, env} + fds [requests, responses] -> {pid}
``kill`` {sid} -> {exit}; ``status`` {sid} -> {exit}; ``shutdown``.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
import time
import traceback
from typing import Any

from .notebook import Notebook
from .protocol import ChannelClosed, encode_frame, read_frame, write_all

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
REAP_INTERVAL_S = 0.2
STATUS_WAIT_S = 2.0
MAX_DATAGRAM = 1 << 16
SIGNAL_MEANING: dict[int, str] = {
    signal.SIGXCPU: "the session's CPU time limit was reached",
    signal.SIGSEGV: "the process crashed (segmentation fault)",
    signal.SIGKILL: "the process was killed",
    signal.SIGXFSZ: "the file size limit was reached",
    signal.SIGABRT: "the process aborted",
}


def describe_exit(status: int) -> str:
    """A sentence for a ``waitpid`` status."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        meaning = SIGNAL_MEANING.get(number, "the process was terminated")
        return f"{meaning} ({name})"
    return f"the process exited with status {os.WEXITSTATUS(status)}"


class ForkServer:
    """State of the server: the control socket, the prepared filter, the live children."""

    def __init__(self, config: dict[str, Any], control: socket.socket) -> None:
        self.config = config
        self.control = control
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.layers: dict[str, dict[str, Any]] = {}
        self.seccomp_filter: Any = None
        self.children: dict[int, tuple[int, str]] = {}  # sid -> (pid, scratch dir)
        self.exits: dict[int, str] = {}  # sid -> description, for children already reaped

    def prepare(self) -> None:
        if self.config.get("unshare_net"):
            self._unshare_network()
        self._preload(self.config.get("preload", []))
        self._warm_up(self.config.get("warmup", ""))
        self._build_seccomp()
        root = os.geteuid() == 0
        self.layers["uid"] = {
            "active": root,
            "detail": "each session runs as its own unprivileged uid"
            if root
            else f"sessions keep the server's uid {os.geteuid()} (not root: cannot switch uid)",
        }
        os.makedirs(self.config["scratch_root"], mode=0o755, exist_ok=True)
        gc.freeze()  # children share the preloaded heap copy-on-write; keep the GC off it

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
        self.layers["seccomp"] = {"active": True, "detail": "sockets, fork/exec, ptrace denied"}

    def serve(self) -> None:
        self._send({"op": "hello", "pid": os.getpid(), "layers": self.layers})
        while True:
            ready, _, _ = select.select([self.control], [], [], REAP_INTERVAL_S)
            self._reap()
            if not ready:
                continue
            data, fds, _, _ = socket.recv_fds(self.control, MAX_DATAGRAM, 2)
            if not data:
                break  # the host went away: end every session
            request = json.loads(data)
            if request["op"] == "shutdown":
                break
            self._send(self._handle(request, fds))
        self._kill_all()

    def _send(self, message: dict[str, Any]) -> None:
        self.control.send(json.dumps(message).encode())

    def _handle(self, request: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        sid = request["sid"]
        try:
            if request["op"] == "spawn":
                return {"pid": self._spawn(sid, request, fds)}
            if request["op"] == "kill":
                return {"exit": self._kill(sid)}
            if request["op"] == "status":
                return {"exit": self._status(sid)}
            return {"error": f"unknown op {request['op']!r}"}
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            for fd in fds:
                os.close(fd)

    def _spawn(self, sid: int, request: dict[str, Any], fds: list[int]) -> int:
        scratch = os.path.join(self.config["scratch_root"], f"session-{sid}")
        os.mkdir(scratch, 0o700)
        if os.geteuid() == 0:
            os.chown(scratch, request["uid"], request["uid"])
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                self._become_session(request, scratch, fds)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        self.children[sid] = (pid, scratch)
        return pid

    def _become_session(self, request: dict[str, Any], scratch: str, fds: list[int]) -> None:
        requests_fd, responses_fd = fds
        os.setsid()
        self.control.close()
        self.libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG instead
        limits = request["limits"]
        _apply_rlimits(limits, switch_uid=os.geteuid() == 0)
        if os.geteuid() == 0:
            uid = request["uid"]
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        os.chdir(scratch)
        fd_output = os.open(scratch, os.O_TMPFILE | os.O_RDWR, 0o600)
        os.dup2(fd_output, 1)
        os.dup2(fd_output, 2)
        os.environ.clear()
        os.environ.update(request.get("env", {}), HOME=scratch, TMPDIR=scratch)
        if self.seccomp_filter is not None:
            self.seccomp_filter.load()
        notebook = Notebook(limits["max_output_chars"], fd_output)
        write_all(responses_fd, encode_frame({"ready": True}))
        _serve_notebook(notebook, requests_fd, responses_fd)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._forget(pid, status)

    def _forget(self, pid: int, status: int) -> None:
        for sid, (child_pid, scratch) in list(self.children.items()):
            if child_pid == pid:
                del self.children[sid]
                self.exits[sid] = describe_exit(status)
                shutil.rmtree(scratch, ignore_errors=True)

    def _kill(self, sid: int) -> str:
        if sid in self.children:
            pid = self.children[sid][0]
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            self._forget(pid, status)
        return self.exits.pop(sid, "the session had already ended")

    def _status(self, sid: int) -> str:
        deadline = time.monotonic() + STATUS_WAIT_S
        while sid in self.children and time.monotonic() < deadline:
            pid = self.children[sid][0]
            reaped, status = os.waitpid(pid, os.WNOHANG)
            if reaped:
                self._forget(pid, status)
            else:
                time.sleep(0.01)
        if sid in self.children:
            return "the session process is still running"
        return self.exits.pop(sid, "the session had already ended")

    def _kill_all(self) -> None:
        for pid, _ in list(self.children.values()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for sid, (_, scratch) in list(self.children.items()):
            shutil.rmtree(scratch, ignore_errors=True)
            del self.children[sid]


def _apply_rlimits(limits: dict[str, Any], *, switch_uid: bool) -> None:
    mib = 1024 * 1024
    pagesize = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm") as statm:
        mapped = int(statm.read().split()[0]) * pagesize
    address_space = mapped + limits["memory_mb"] * mib
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    file_size = limits["file_size_mb"] * mib
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if switch_uid:  # RLIMIT_NPROC counts per uid and does not bind root
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))


def _serve_notebook(notebook: Notebook, requests_fd: int, responses_fd: int) -> None:
    while True:
        try:
            request = read_frame(requests_fd)
        except ChannelClosed:
            return
        result = notebook.run(request["code"], request.get("timeout"))
        write_all(responses_fd, encode_frame(result))


def main(argv: list[str]) -> None:
    config = json.loads(argv[1])
    control = socket.socket(fileno=config["control_fd"])
    server = ForkServer(config, control)
    server.prepare()
    server.serve()


if __name__ == "__main__":
    main(sys.argv)
