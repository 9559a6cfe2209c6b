"""Starting the fork server inside bubblewrap, and knowing which isolation layers are on.

The server runs as PID 1 of its own PID namespace (its death ends every session) and in its own
network, IPC and UTS namespaces. It sees a read-only view of the file system made of ``/usr``,
the Python installation and the libraries it imports, each bound at a neutral path under
``/opt``, and the sandbox code, copied in (not bound from the caller's checkout): no path of the
caller shows inside. It gets an empty environment and a small private ``/tmp`` holding the mount
points of the per-session scratch file systems. Without bubblewrap, the server starts as a plain
child process and the layers that depend on it are off (``verimath doctor`` lists them).

Nothing the host or the server executes comes from a place another user can write: the site
mirrors live in a directory of root (or of the caller), checked component by component before
use (owner, mode, no symbolic link), else rebuilt; bwrap itself is checked the same way. The
capabilities the layers need are checked before the server starts (``missing_capabilities``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import select
import shutil
import site
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from verimath.errors import SandboxUnavailableError
from verimath.interpreter.limits import Limits
from verimath.interpreter.sandbox.files import remove_tree
from verimath.interpreter.sandbox.protocol import Hello, LayerReport, ServerConfig
from verimath.interpreter.uids import LOCK_DIR, sweep_leases

SANDBOX_CODE_DIR = Path(__file__).parent / "sandbox"
SANDBOX_CODE_MOUNT = "/opt/verimath"
SANDBOX_PYTHON_MOUNT = "/opt/python"
SANDBOX_SITE_MOUNT = "/opt/verimath/site-{n}"
SANDBOX_SCRATCH_ROOT = "/tmp/sessions"
SANDBOX_LEASE_MOUNT = "/run/verimath-session-uids"
SITE_MIRROR_ROOT = (
    "/var/cache/verimath/site-mirrors"
    if os.geteuid() == 0
    else os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "verimath", "mirrors"
    )
)
MIRROR_IDLE_S = 24 * 3600  # a mirror no interpreter has used for a day is removed
MIRROR_BUILD_LEFTOVER_S = 3600  # a half-built mirror this old was left by a crash
SANDBOX_TMP_BYTES = 1024 * 1024  # /tmp holds only the scratch mount points
SERVER_START_TIMEOUT_S = 120.0
PRELOAD_MODULES = (
    "math", "cmath", "fractions", "decimal", "itertools", "functools", "collections", "re",
    "statistics", "random", "string", "json", "heapq", "bisect", "operator", "numpy", "mpmath",
    "sympy", "scipy", "scipy.special", "scipy.optimize", "scipy.integrate", "scipy.linalg",
)  # fmt: skip
# Notebook display as in the NumPy 1 era most models were trained on: NumPy 2 shows a scalar as
# np.float64(0.5) where their notebooks showed 0.5 (NEP 51); the legacy print mode "1.25" shows
# it as NumPy 1 did. Set in the server before any fork, so every session starts with it.
NUMPY_DISPLAY_CODE = """
try:
    import numpy
    if int(numpy.__version__.split(".")[0]) >= 2:
        numpy.set_printoptions(legacy="1.25")
except ImportError:
    pass
"""
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
# The server keeps these to give each session its uid, namespaces and scratch file system; a
# session loses every capability when it switches to its own uid.
ROOT_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_SYS_ADMIN")
CAPABILITY_NUMBERS = {"CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SYS_ADMIN": 21}
CAPABILITY_FIX = (
    "run verimath as root with these capabilities (docker run --cap-add {flags}; not under "
    "capsh --drop or a lowered bounding set)"
)
BOOT = "from sandbox.server import main; main(sys.argv)"


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


@dataclass(frozen=True)
class PythonLayout:
    """Where this Python and its libraries are on the host, and where the sandbox sees them."""

    binds: tuple[tuple[str, str], ...]
    """(host path, sandbox path) pairs to bind read-only."""
    executable: str
    """The base interpreter (never a virtual environment's), as the sandbox sees it."""
    site_dirs: tuple[str, ...]
    """Library directories to put on ``sys.path`` in the sandbox, as the sandbox sees them."""
    masks: tuple[str, ...] = ()
    """Files hidden behind an empty one in the sandbox: ``.pth`` files, editable-install
    finders and ``direct_url.json``, which name the caller's checkout."""


def python_layout() -> PythonLayout:
    """This Python's installation and library directories, mapped to neutral sandbox paths.

    A virtual environment's own ``site-packages`` (which may live inside the caller's checkout)
    is bound under ``/opt/verimath``; the interpreter runs from its base installation.
    """
    base = os.path.realpath(sys.base_prefix)
    executable = os.path.realpath(sys.executable)
    binds: list[tuple[str, str]] = []
    if not _is_within(base, "/usr"):
        binds.append((base, SANDBOX_PYTHON_MOUNT))
        executable = _relocate(executable, base, SANDBOX_PYTHON_MOUNT)
    site_dirs: list[str] = []
    masks: list[str] = []
    for path in _site_dirs():
        if _is_within(path, "/usr"):
            target = path
        elif _is_within(path, base):
            target = _relocate(path, base, SANDBOX_PYTHON_MOUNT)
        else:
            target = SANDBOX_SITE_MOUNT.format(n=len(binds))
            binds.append((mirror_of(path), target))
        site_dirs.append(target)
        masks += [_relocate(found, path, target) for found in _naming_files(path)]
    return PythonLayout(tuple(binds), executable, tuple(site_dirs), tuple(masks))


def mirror_path(site_dir: str) -> str:
    """Where the mirror of the current version of ``site_dir`` lives."""
    info = os.stat(site_dir)
    key = hashlib.sha256(f"{site_dir}\0{info.st_ino}\0{info.st_mtime_ns}".encode()).hexdigest()
    return os.path.join(SITE_MIRROR_ROOT, key[:24])


_held_mirrors: dict[str, int] = {}
"""Mirrors this process uses, each with a descriptor holding a shared lock (no sweep removes a
mirror while it is locked)."""


def mirror_of(site_dir: str) -> str:
    """A hard-linked copy of ``site_dir`` under ``SITE_MIRROR_ROOT``, made once per version of
    the directory, or ``site_dir`` itself when none can be made (another file system, or a
    mirror root that cannot be trusted).

    A bind mount shows its source path in ``/proc/self/mountinfo``; a virtual environment inside
    the caller's checkout would give that path away. The mirror's path names nothing of the
    caller; its files are the same files (hard links), so it costs directory entries only. The
    server imports from it as root: a mirror that is not a directory of ours that no one else
    can write (a symbolic link, another user's, group- or world-writable) is removed and built
    again.
    """
    mirror = mirror_path(site_dir)
    if mirror in _held_mirrors:
        return mirror
    try:
        _trusted_mirror_root()
        fd = _held_mirror(mirror) or _build_mirror(site_dir, mirror)
    except (OSError, SandboxUnavailableError):
        return site_dir
    _held_mirrors[mirror] = fd
    return mirror


def release_mirrors() -> None:
    """Unlock every mirror this process holds (they may then be swept once idle)."""
    while _held_mirrors:
        os.close(_held_mirrors.popitem()[1])


def untrusted_component(path: str) -> str | None:
    """The first existing component of ``path`` (from ``/``) that a user other than root and
    us could change: not owned by either, group- or world-writable without the sticky bit, or
    a symbolic link; None when there is none. Walked with ``O_NOFOLLOW`` descriptors."""
    parts = [part for part in os.path.normpath(os.path.abspath(path)).split("/") if part]
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    walked = ""
    try:
        for part in ["", *parts]:
            if part:
                walked += "/" + part
                try:
                    next_fd = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                except FileNotFoundError:
                    return None
                os.close(fd)
                fd = next_fd
            info = os.fstat(fd)
            if not _trusted(info, sticky_ok=True):
                return walked or "/"
        return None
    finally:
        os.close(fd)


def _trusted(info: os.stat_result, *, sticky_ok: bool) -> bool:
    if stat.S_ISLNK(info.st_mode) or info.st_uid not in (0, os.geteuid()):
        return False
    writable_by_others = info.st_mode & 0o022
    return not writable_by_others or (sticky_ok and bool(info.st_mode & stat.S_ISVTX))


def _trusted_mirror_root() -> None:
    """Make sure ``SITE_MIRROR_ROOT`` is a directory of ours that no one else can write, in
    a chain of directories no one else can change; else SandboxUnavailableError."""
    parent, name = os.path.split(SITE_MIRROR_ROOT.rstrip("/"))
    bad = untrusted_component(parent)
    if bad is not None:
        raise SandboxUnavailableError(f"{bad} can be changed by another user")
    os.makedirs(parent, mode=0o755, exist_ok=True)
    with _opened(parent, os.O_RDONLY | os.O_DIRECTORY) as parent_fd:
        try:
            info: os.stat_result | None = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            info = None
        if info is not None and not (
            stat.S_ISDIR(info.st_mode)
            and info.st_uid == os.geteuid()
            and _trusted(info, sticky_ok=False)
        ):
            remove_at(parent_fd, name)
            info = None
        if info is None:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o755, dir_fd=parent_fd)
                os.chmod(name, 0o755, dir_fd=parent_fd)


@contextlib.contextmanager
def _opened(path: str, flags: int, dir_fd: int | None = None) -> Iterator[int]:
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def _held_mirror(mirror: str) -> int | None:
    """A shared-locked descriptor of ``mirror`` when it is there and trusted; a mirror that is
    there but not trusted is removed (None: build it)."""
    root, name = os.path.split(mirror)
    with _opened(root, os.O_RDONLY | os.O_DIRECTORY) as root_fd:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root_fd)
        except FileNotFoundError:
            return None
        except OSError:  # a symbolic link or a file in its place
            remove_at(root_fd, name)
            return None
        info = os.fstat(fd)
        if info.st_uid != os.geteuid() or not _trusted(info, sticky_ok=False):
            os.close(fd)
            remove_at(root_fd, name)
            return None
        fcntl.flock(fd, fcntl.LOCK_SH)
        named = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
        if (named.st_dev, named.st_ino) != (info.st_dev, info.st_ino):
            os.close(fd)  # swept between our open and our lock
            return None
        os.utime(fd)  # its last use, for the sweep
        return fd


def _build_mirror(site_dir: str, mirror: str) -> int:
    building = tempfile.mkdtemp(dir=SITE_MIRROR_ROOT, prefix=".building-")
    try:
        _link_tree(site_dir, building)
        os.chmod(building, 0o755)
        os.rename(building, mirror)
    except OSError:
        remove_tree(building)  # another process won the race, or links cannot be made
    fd = _held_mirror(mirror)
    if fd is None:
        raise SandboxUnavailableError(f"could not build a mirror of {site_dir}")
    return fd


def sweep_mirrors() -> None:
    """Remove mirrors idle for ``MIRROR_IDLE_S`` that no process holds, and leftovers."""
    if not os.path.isdir(SITE_MIRROR_ROOT):
        return
    try:
        _trusted_mirror_root()
        root_fd = os.open(SITE_MIRROR_ROOT, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except (OSError, SandboxUnavailableError):
        return
    try:
        now = time.time()
        for name in os.listdir(root_fd):
            with contextlib.suppress(OSError):
                _sweep_one(root_fd, name, now)
    finally:
        os.close(root_fd)


def _sweep_one(root_fd: int, name: str, now: float) -> None:
    info = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
    idle = now - info.st_mtime
    if name.startswith("."):
        if idle > MIRROR_BUILD_LEFTOVER_S:
            remove_at(root_fd, name)
        return
    if idle <= MIRROR_IDLE_S:
        return
    with _opened(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=root_fd) as fd:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # in use
        removing = f".removing-{name}"
        os.rename(name, removing, src_dir_fd=root_fd, dst_dir_fd=root_fd)
    remove_at(root_fd, removing)


def remove_at(parent_fd: int, name: str) -> None:
    """Remove ``name`` in the directory ``parent_fd`` (a tree, a file or a link) without
    following any symbolic link, even one swapped in while removing (descriptor-based walk)."""
    info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(name, dir_fd=parent_fd)
        return
    for _, directories, files, fd in os.fwalk(name, topdown=False, dir_fd=parent_fd):
        for entry in files:
            os.unlink(entry, dir_fd=fd)
        for entry in directories:
            try:
                os.rmdir(entry, dir_fd=fd)
            except NotADirectoryError:
                os.unlink(entry, dir_fd=fd)
    os.rmdir(name, dir_fd=parent_fd)


def _link_tree(source: str, target: str) -> None:
    for directory, subdirectories, files in os.walk(source):
        relative = os.path.relpath(directory, source)
        here = os.path.normpath(os.path.join(target, relative))
        for name in subdirectories:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                os.symlink(os.readlink(path), os.path.join(here, name))
            else:
                os.mkdir(os.path.join(here, name), 0o755)
        for name in files:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                os.symlink(os.readlink(path), os.path.join(here, name))
            else:
                os.link(path, os.path.join(here, name))


def _naming_files(site_dir: str) -> list[str]:
    """Files of a library directory that may hold the path of the caller's checkout."""
    patterns = ("*.pth", "__editable__*", "*.dist-info/direct_url.json", "*.egg-link")
    return sorted({str(path) for pattern in patterns for path in Path(site_dir).glob(pattern)})


def _site_dirs() -> list[str]:
    """The host's library directories on ``sys.path``, virtual environment first."""
    candidates = [*site.getsitepackages(), site.getusersitepackages()]
    found: list[str] = []
    for path in candidates:
        real = os.path.realpath(path)
        if path in sys.path and os.path.isdir(real) and real not in found:
            found.append(real)
    return found


def _relocate(path: str, old_root: str, new_root: str) -> str:
    return new_root + path[len(old_root.rstrip("/")) :] if _is_within(path, old_root) else path


def _is_within(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def bwrap_command(bwrap: str, limits: Limits, python_argv: list[str]) -> list[str]:
    """The bubblewrap command line that runs ``python_argv`` in the sandbox's file system.

    When ``python_argv`` starts with this Python, it runs from its neutral path with the
    host's library directories on its path (``sandbox_python``).
    """
    if python_argv[:1] == [sys.executable]:
        python_argv = sandbox_python(python_argv[1:])
    argv = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try", "--new-session", "--die-with-parent", "--as-pid-1"]
    argv += ["--hostname", "sandbox"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    argv += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(SANDBOX_TMP_BYTES), "--tmpfs", "/tmp"]
    layout = python_layout()
    argv += _readable_binds(list(layout.binds))
    for mask in layout.masks:
        argv += ["--ro-bind", os.devnull, mask]
    argv += ["--clearenv", "--chdir", "/tmp"]
    for key, value in SANDBOX_ENV.items():
        argv += ["--setenv", key, value]
    if os.geteuid() == 0:
        argv += ["--cap-drop", "ALL"]
        for capability in ROOT_CAPABILITIES:
            if capability not in missing_capabilities(permitted=True):
                argv += ["--cap-add", capability]
    return [*argv, "--", *python_argv]


def missing_capabilities(*, permitted: bool = False) -> list[str]:
    """The capabilities of ``ROOT_CAPABILITIES`` this process lacks (effective, or with
    ``permitted`` the ones it could pass on), as the kernel reports them in
    ``/proc/self/status``; all of them when it is not root."""
    if os.geteuid() != 0:
        return list(ROOT_CAPABILITIES)
    field = "CapPrm:" if permitted else "CapEff:"
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith(field))
        mask = int(line.split()[1], 16)
    except (OSError, StopIteration, ValueError):
        return list(ROOT_CAPABILITIES)
    return [name for name in ROOT_CAPABILITIES if not mask >> CAPABILITY_NUMBERS[name] & 1]


def capability_refusal(missing: list[str]) -> str:
    """One line refusing to start without ``missing``: which, and how to get them."""
    flags = " --cap-add ".join(name.removeprefix("CAP_") for name in missing)
    fix = CAPABILITY_FIX.format(flags=flags)
    return (
        f"the sandbox needs {', '.join(missing)}, which this process lacks (sessions of their "
        f"own uids could not be switched to, signalled or isolated): {fix}. Run 'verimath "
        "doctor' to check every layer; to run model code without the sandbox anyway, pass "
        "--unsafe-no-sandbox."
    )


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


def sandbox_python(args: list[str], extra_paths: tuple[str, ...] = ()) -> list[str]:
    """``python args...`` as run inside the sandbox: the base interpreter at its neutral path,
    with ``extra_paths`` and the host's library directories first on ``sys.path``."""
    layout = python_layout()
    paths = [*extra_paths, *layout.site_dirs]
    if len(args) >= 3 and args[0] == "-I" and args[1] == "-c":
        args = ["-I", "-c", f"import sys; sys.path[:0] = {paths!r}\n{args[2]}", *args[3:]]
    return [layout.executable, *args]


def start_server(
    limits: Limits, *, use_bwrap: bool = True, seccomp: bool = True, allow_unsandboxed: bool = False
) -> ServerProcess:
    """Start the fork server inside bubblewrap and wait for its hello.

    Without bubblewrap (disabled, missing or failing) the server runs unsandboxed only when
    ``allow_unsandboxed``; otherwise SandboxUnavailableError names the layer and the fix.
    """
    missing = missing_capabilities() if os.geteuid() == 0 else []
    if missing and not allow_unsandboxed:
        raise SandboxUnavailableError(capability_refusal(missing))
    _tidy_up()
    failure = None
    bwrap = shutil.which("bwrap") if use_bwrap else None
    if bwrap and untrusted_component(bwrap) is not None:
        failure = f"{bwrap} is in a place another user can write ({untrusted_component(bwrap)})"
        bwrap = None
    if bwrap:
        try:
            return _launch(limits, bwrap, seccomp)
        except SandboxUnavailableError as exc:
            failure = str(exc)
    reason = failure or ("bubblewrap disabled" if not use_bwrap else "bubblewrap (bwrap) not found")
    if use_bwrap and not allow_unsandboxed:
        fix = "bubblewrap fails to start" if failure else "install it: apt-get install bubblewrap"
        raise SandboxUnavailableError(
            f"the sandbox's bubblewrap layer is off ({reason.splitlines()[0]}): "
            f"{fix} (or run 'bash setup.sh'); see 'verimath doctor'. To run model code without "
            "a sandbox anyway, pass --unsafe-no-sandbox (Interpreter(unsafe_no_sandbox=True))."
            + (f"\n{failure}" if failure else "")
        )
    return _launch(limits, None, seccomp, fallback_reason=reason)


def _tidy_up() -> None:
    """Remove what crashed runs left: unheld uid lock files and idle site mirrors."""
    if os.geteuid() == 0:
        sweep_leases()
    sweep_mirrors()


def _code_binds() -> tuple[list[str], list[int]]:
    """bubblewrap arguments that copy the sandbox code in (never a bind of the checkout)."""
    argv = ["--perms", "0755", "--dir", f"{SANDBOX_CODE_MOUNT}/sandbox"]
    fds: list[int] = []
    for path in sorted(SANDBOX_CODE_DIR.glob("*.py")):
        fd = os.memfd_create(path.name, 0)
        os.write(fd, path.read_bytes())
        os.lseek(fd, 0, os.SEEK_SET)
        fds.append(fd)
        destination = f"{SANDBOX_CODE_MOUNT}/sandbox/{path.name}"
        argv += ["--perms", "0644", "--ro-bind-data", str(fd), destination]
    return argv, fds


def _launch(
    limits: Limits, bwrap: str | None, seccomp: bool, fallback_reason: str | None = None
) -> ServerProcess:
    host_end, server_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    host_scratch = None if bwrap else tempfile.mkdtemp(prefix="verimath-scratch-")
    scratch_root = SANDBOX_SCRATCH_ROOT
    if host_scratch:
        os.chmod(host_scratch, 0o755)
        scratch_root = os.path.join(host_scratch, "sessions")
    config: ServerConfig = {
        "control_fd": server_end.fileno(),
        "preload": list(PRELOAD_MODULES),
        "warmup": NUMPY_DISPLAY_CODE + WARMUP_CODE,
        "seccomp": seccomp,
        "scratch_root": scratch_root,
        "scratch_mb": limits.scratch_mb,
        "scratch_inodes": limits.scratch_inodes,
        "unshare_net": bwrap is None,
        "host_can_kill": "CAP_KILL" not in missing_capabilities(),
    }
    if os.geteuid() == 0:
        config["lease_dir"] = SANDBOX_LEASE_MOUNT if bwrap else LOCK_DIR
    code_fds: list[int] = []
    if bwrap:
        code_argv, code_fds = _code_binds()
        if os.geteuid() == 0:  # the server unlinks a session's lock file once it has reaped it
            code_argv += ["--bind", LOCK_DIR, SANDBOX_LEASE_MOUNT]
        boot = sandbox_python(["-I", "-c", BOOT, json.dumps(config)], (SANDBOX_CODE_MOUNT,))
        argv = bwrap_command(bwrap, limits, boot)
        argv[argv.index("--") : argv.index("--")] = code_argv
    else:
        argv = [sys.executable, "-I", "-c", BOOT, json.dumps(config)]
        argv[3] = f"import sys; sys.path[:0] = {[str(SANDBOX_CODE_DIR.parent)]!r}\n{BOOT}"
    log = tempfile.TemporaryFile(prefix="verimath-sandbox-")  # noqa: SIM115 - the server owns it
    try:
        process = _popen(argv, [server_end.fileno(), *code_fds], log)
    finally:
        for fd in code_fds:
            os.close(fd)
    server_end.close()
    server = ServerProcess(process, host_end, (), log, host_scratch)
    hello = _await_hello(server)
    server.layers = _layers(hello["layers"], bwrap, fallback_reason)
    return server


def _popen(argv: list[str], fds: list[int], log: BinaryIO) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        pass_fds=fds,
        env=dict(SANDBOX_ENV),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        cwd="/",
    )


def _await_hello(server: ServerProcess) -> Hello:
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
    hello: Hello = json.loads(data)
    return hello


def _layers(
    reported: dict[str, LayerReport], bwrap: str | None, fallback_reason: str | None
) -> tuple[Layer, ...]:
    missing = f"off: {fallback_reason}"
    network = reported.get("network", {"active": bool(bwrap), "detail": "own network namespace"})
    privileges = reported.get("privileges", {"active": False, "detail": "not reported"})
    processes = reported.get("processes", {"active": False, "detail": "not reported"})
    layers = [
        Layer("bubblewrap", bool(bwrap), f"server started by {bwrap}" if bwrap else missing),
        Layer("privileges", privileges["active"], privileges["detail"]),
        Layer(
            "network",
            network["active"],
            network["detail"] + ", loopback down" if network["active"] else network["detail"],
        ),
        Layer(
            "filesystem",
            bool(bwrap),
            "read-only /usr, Python and sandbox code at neutral paths" if bwrap else missing,
        ),
        Layer(
            "processes",
            bool(bwrap) and processes["active"],
            "server is PID 1 of its own PID namespace: its death ends every session; "
            + processes["detail"]
            if bwrap
            else missing,
        ),
        Layer("environment", True, "empty environment (no variable of the caller)"),
        Layer("rlimits", True, "address space, CPU, file size, open files, threads"),
    ]
    for name in ("uid", "seccomp", "ipc", "scratch"):
        entry = reported.get(name, {"active": False, "detail": "not reported"})
        layers.append(Layer(name, entry["active"], entry["detail"]))
    preload = reported.get("preload", {"active": True, "detail": "ok"})
    layers.append(Layer("preload", preload["active"], preload["detail"]))
    return tuple(layers)
