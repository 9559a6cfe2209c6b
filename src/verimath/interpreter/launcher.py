"""Starting the fork server inside bubblewrap, and knowing which isolation layers are on.

The server runs in its own network, PID, IPC and UTS namespaces, sees a read-only view of the
file system made of ``/usr``, the Python installation and the sandbox code only, gets an empty
environment and a private in-memory ``/tmp`` holding the per-session scratch directories. Without
bubblewrap, the server starts as a plain child process and the layers that depend on it are off
(``verimath doctor`` lists them).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import site
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from verimath.errors import SandboxUnavailableError
from verimath.interpreter.limits import Limits

SANDBOX_CODE_DIR = Path(__file__).parent / "sandbox"
SANDBOX_CODE_MOUNT = "/opt/verimath"
SANDBOX_SCRATCH_ROOT = "/tmp/sessions"
SERVER_START_TIMEOUT_S = 120.0
PRELOAD_MODULES = (
    "math", "cmath", "fractions", "decimal", "itertools", "functools", "collections", "re",
    "statistics", "random", "string", "json", "heapq", "bisect", "operator", "numpy", "mpmath",
    "sympy", "scipy", "scipy.special", "scipy.optimize", "scipy.integrate", "scipy.linalg",
)  # fmt: skip
# Run once in the server before any fork: sympy loads much of itself lazily and fills caches
# on first use, which would otherwise cost every new session 30-120 ms on its first cell.
WARMUP_CODE = """
from sympy import *
x, y, z, n = symbols("x y z n")
solve(x**2 - 2, x); solve(x**3 - 2*x + 1, x); solve([x + y - 3, x - y - 1], [x, y])
simplify(sin(x)**2 + cos(x)**2); trigsimp(sin(x)*cos(x)); integrate(x*exp(x), x)
integrate(1/(1 + x**2), (x, 0, 1)); factor(x**4 - 1); expand((x + 1)**5); limit(sin(x)/x, x, 0)
summation(1/n**2, (n, 1, oo)); nsolve(x**2 - 2, x, 1); N(pi, 50); Matrix([[1, 2], [3, 4]]).inv()
sqrt(8) + Rational(1, 3); diff(x**3*sin(x), x); series(exp(x), x, 0, 4); isprime(97)
factorint(360); binomial(10, 3); gcd(12, 18); Poly(x**2 + 1, x).all_roots(); nroots(x**3 - 2)
solveset(x**2 - 4, x, domain=S.Reals); latex(x**2/2); parse_expr("x**2 + 1"); apart(1/(x*(x+1)))
import numpy, scipy.optimize, scipy.integrate
numpy.roots([1, 0, -2]); numpy.linalg.solve(numpy.eye(2), numpy.ones(2))
scipy.optimize.brentq(lambda t: t*t - 2, 0, 2); scipy.integrate.quad(lambda t: t, 0, 1)
"""
SANDBOX_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
}
ROOT_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN")
BOOT = "import sys; sys.path[:0] = {paths!r}; from sandbox.server import main; main(sys.argv)"


@dataclass(frozen=True)
class Layer:
    """One isolation layer and whether it is in force."""

    name: str
    active: bool
    detail: str


@dataclass
class ServerProcess:
    """A running fork server and the host's end of its control socket."""

    process: subprocess.Popen[bytes]
    control: socket.socket
    layers: tuple[Layer, ...]
    log: BinaryIO
    host_scratch: str | None

    def log_tail(self, size: int = 2000) -> str:
        self.log.seek(0, os.SEEK_END)
        end = self.log.tell()
        self.log.seek(max(0, end - size))
        return self.log.read().decode("utf-8", "replace").strip()


def python_mounts() -> list[str]:
    """Directories the sandbox needs to run this Python: its installation and site-packages."""
    candidates = {sys.base_prefix, sys.prefix, *site.getsitepackages()}
    user_site = site.getusersitepackages()
    if user_site in sys.path and os.path.isdir(user_site):
        candidates.add(user_site)
    paths = sorted(os.path.realpath(p) for p in candidates if os.path.isdir(p))
    outside_usr = [p for p in paths if not _is_within(p, "/usr")]
    return [p for p in outside_usr if not any(_is_within(p, q) and p != q for q in outside_usr)]


def _is_within(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def bwrap_command(bwrap: str, limits: Limits, python_argv: list[str]) -> list[str]:
    """The bubblewrap command line that starts the server."""
    argv = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--new-session", "--hostname", "sandbox"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    argv += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(limits.scratch_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    binds = [(path, path) for path in python_mounts()]
    argv += _readable_binds([*binds, (str(SANDBOX_CODE_DIR), f"{SANDBOX_CODE_MOUNT}/sandbox")])
    argv += ["--clearenv", "--chdir", "/tmp"]
    for key, value in SANDBOX_ENV.items():
        argv += ["--setenv", key, value]
    if os.geteuid() == 0:
        argv += ["--cap-drop", "ALL"]
        for capability in ROOT_CAPABILITIES:
            argv += ["--cap-add", capability]
    return [*argv, "--", *python_argv]


def _readable_binds(binds: list[tuple[str, str]]) -> list[str]:
    """Bind each source read-only at its destination, making the parents world-traversable.

    bubblewrap creates missing parents with mode 0700; a session that has dropped to another
    uid could then not reach a Python installed under, say, /root/.pyenv.
    """
    argv: list[str] = []
    made: set[str] = set()
    for source, destination in binds:
        for parent in map(str, reversed(Path(destination).parents)):
            if parent != "/" and parent not in made:
                made.add(parent)
                argv += ["--perms", "0755", "--dir", parent]
        argv += ["--ro-bind", source, destination]
    return argv


def start_server(limits: Limits, *, use_bwrap: bool = True, seccomp: bool = True) -> ServerProcess:
    """Start the fork server, inside bubblewrap when possible; wait for its hello."""
    failure = None
    bwrap = shutil.which("bwrap") if use_bwrap else None
    if bwrap:
        try:
            return _launch(limits, bwrap, seccomp)
        except SandboxUnavailableError as exc:
            failure = str(exc)
    reason = failure or ("bubblewrap disabled" if not use_bwrap else "bubblewrap (bwrap) not found")
    return _launch(limits, None, seccomp, fallback_reason=reason)


def _launch(
    limits: Limits, bwrap: str | None, seccomp: bool, fallback_reason: str | None = None
) -> ServerProcess:
    host_end, server_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    host_scratch = None if bwrap else tempfile.mkdtemp(prefix="verimath-scratch-")
    if host_scratch:
        os.chmod(host_scratch, 0o755)
    scratch_root = os.path.join(host_scratch, "sessions") if host_scratch else SANDBOX_SCRATCH_ROOT
    config = {
        "control_fd": server_end.fileno(),
        "preload": list(PRELOAD_MODULES),
        "warmup": WARMUP_CODE,
        "seccomp": seccomp,
        "scratch_root": scratch_root,
        "unshare_net": bwrap is None,
    }
    code_parent = SANDBOX_CODE_MOUNT if bwrap else str(SANDBOX_CODE_DIR.parent)
    python_argv = [sys.executable, "-I", "-c", BOOT.format(paths=[code_parent]), json.dumps(config)]
    argv = bwrap_command(bwrap, limits, python_argv) if bwrap else python_argv
    log = tempfile.TemporaryFile(prefix="verimath-sandbox-")  # noqa: SIM115 - the server owns it
    process = subprocess.Popen(
        argv,
        pass_fds=[server_end.fileno()],
        env=dict(SANDBOX_ENV),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        cwd="/",
    )
    server_end.close()
    server = ServerProcess(process, host_end, (), log, host_scratch)
    hello = _await_hello(server)
    server.layers = _layers(hello["layers"], bwrap, fallback_reason)
    return server


def _await_hello(server: ServerProcess) -> dict[str, Any]:
    ready, _, _ = select.select([server.control], [], [], SERVER_START_TIMEOUT_S)
    data = server.control.recv(1 << 16) if ready else b""
    if not data:
        server.process.kill()
        server.process.wait()
        raise SandboxUnavailableError(
            "the sandboxed interpreter did not start"
            + ("" if ready else f" within {SERVER_START_TIMEOUT_S:g} s")
            + f" (exit status {server.process.returncode}). Its log:\n{server.log_tail()}\n"
            "Run 'verimath doctor' to see which isolation layer fails."
        )
    hello: dict[str, Any] = json.loads(data)
    return hello


def _layers(
    reported: dict[str, dict[str, Any]], bwrap: str | None, fallback_reason: str | None
) -> tuple[Layer, ...]:
    missing = f"off: {fallback_reason}"
    network = reported.get("network", {"active": bool(bwrap), "detail": "own network namespace"})
    layers = [
        Layer("bubblewrap", bool(bwrap), f"server started by {bwrap}" if bwrap else missing),
        Layer(
            "network",
            network["active"],
            network["detail"] + ", loopback down" if network["active"] else network["detail"],
        ),
        Layer(
            "filesystem",
            bool(bwrap),
            "read-only /usr and Python install, private scratch" if bwrap else missing,
        ),
        Layer("processes", bool(bwrap), "own PID namespace" if bwrap else missing),
        Layer("environment", True, "empty environment (no variable of the caller)"),
        Layer("rlimits", True, "address space, CPU, file size, open files, threads"),
    ]
    for name in ("uid", "seccomp"):
        entry = reported.get(name, {"active": False, "detail": "not reported"})
        layers.append(Layer(name, entry["active"], entry["detail"]))
    preload = reported.get("preload", {"active": True, "detail": "ok"})
    layers.append(Layer("preload", preload["active"], preload["detail"]))
    return tuple(layers)
