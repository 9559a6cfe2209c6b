"""Session uids that are unique among all live sessions on this machine.

Each session runs as its own unprivileged uid, so that sessions cannot signal, trace or share
a thread limit with one another. Interpreters in different processes must not hand out the same
uid: a uid is leased by taking an exclusive ``flock`` on ``<lock dir>/<uid>.lock``. The lease
is passed to the sandbox server, which keeps it until the session's process has been reaped; the
kernel drops the lock when the last descriptor closes, even if every process involved crashes.

Lock files do not pile up: whoever releases a lease unlinks its file while still holding the
lock, and a lock taken on a file that has meanwhile been unlinked (or replaced) is not a lease:
the taker checks, after locking, that the path still names the file it locked. Files left by a
crash are swept (``sweep_leases``) whenever an interpreter starts its server.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import re
import stat

from verimath.errors import SandboxUnavailableError

SESSION_UID_BASE = 200_000
SESSION_UID_SPAN = 100_000
# A fixed, machine-wide place (not $TMPDIR, which differs between processes).
LOCK_DIR = (
    "/run/lock/verimath-session-uids"
    if os.path.isdir("/run/lock")
    else "/tmp/verimath-session-uids"
)
LOCK_NAME = re.compile(r"[0-9]+\.lock")


class UidLease:
    """An exclusively locked uid; ``fd`` holds the lock until it is closed."""

    def __init__(self, uid: int, fd: int, path: str) -> None:
        self.uid = uid
        self.fd = fd
        self.path = path

    def hand_over(self) -> None:
        """Close this descriptor, leaving the lock (and its file) to a copy sent elsewhere."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def release(self) -> None:
        """Give the uid back: unlink the lock file while still holding it, then unlock."""
        if self.fd >= 0:
            unlink_if_same(self.path, self.fd)
            self.hand_over()


def unlink_if_same(path: str, fd: int) -> None:
    """Unlink ``path`` if it still names the file open as ``fd`` (whose lock the caller holds)."""
    with contextlib.suppress(OSError):
        if _same_file(path, fd):
            os.unlink(path)


def _same_file(path: str, fd: int) -> bool:
    try:
        named, held = os.lstat(path), os.fstat(fd)
    except OSError:
        return False
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def lease_uid(lock_dir: str = LOCK_DIR) -> UidLease:
    """Lock a uid no live session on this machine has; SandboxUnavailableError when none is free."""
    _check_lock_dir(lock_dir)
    start = random.randrange(SESSION_UID_SPAN)
    for step in range(SESSION_UID_SPAN):
        uid = SESSION_UID_BASE + (start + step) % SESSION_UID_SPAN
        path = os.path.join(lock_dir, f"{uid}.lock")
        fd = _lock(path, create=True)
        if fd is not None:
            return UidLease(uid, fd, path)
    raise SandboxUnavailableError(f"every session uid is in use (lock files in {lock_dir})")


def sweep_leases(lock_dir: str = LOCK_DIR) -> int:
    """Unlink the lock files no one holds (left by a crash); how many were removed."""
    try:
        _check_lock_dir(lock_dir)
        names = [name for name in os.listdir(lock_dir) if LOCK_NAME.fullmatch(name)]
    except (OSError, SandboxUnavailableError):
        return 0
    removed = 0
    for name in names:
        path = os.path.join(lock_dir, name)
        fd = _lock(path, create=False)
        if fd is not None:
            unlink_if_same(path, fd)
            os.close(fd)
            removed += 1
    return removed


def _lock(path: str, *, create: bool) -> int | None:
    """A descriptor of ``path`` exclusively locked by us, the path still naming it; else None."""
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW | (os.O_CREAT if create else 0)
    for _ in range(3):  # the file may be unlinked between our open and our lock
        try:
            fd = os.open(path, flags, 0o600)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if _same_file(path, fd):
            return fd
        os.close(fd)
    return None


def _check_lock_dir(lock_dir: str) -> None:
    os.makedirs(lock_dir, mode=0o700, exist_ok=True)
    info = os.lstat(lock_dir)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxUnavailableError(
            f"{lock_dir} must be a directory of uid {os.geteuid()} that no one else can write"
        )
