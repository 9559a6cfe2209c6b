"""Session uids that are unique among all live sessions on this machine.

Each session runs as its own unprivileged uid, so that sessions cannot signal, trace or share
a thread limit with one another. Interpreters in different processes must not hand out the same
uid: a uid is leased by taking an exclusive ``flock`` on ``<lock dir>/<uid>.lock``. The lease
is passed to the sandbox server, which keeps it until the session's process has been reaped; the
kernel drops the lock when the last descriptor closes, even if every process involved crashes.
"""

from __future__ import annotations

import fcntl
import os
import random
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


class UidLease:
    """An exclusively locked uid; ``fd`` holds the lock until it is closed."""

    def __init__(self, uid: int, fd: int) -> None:
        self.uid = uid
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def lease_uid(lock_dir: str = LOCK_DIR) -> UidLease:
    """Lock a uid no live session on this machine has; SandboxUnavailableError when none is free."""
    os.makedirs(lock_dir, mode=0o700, exist_ok=True)
    info = os.lstat(lock_dir)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxUnavailableError(
            f"{lock_dir} must be a directory of uid {os.geteuid()} that no one else can write"
        )
    start = random.randrange(SESSION_UID_SPAN)
    for step in range(SESSION_UID_SPAN):
        uid = SESSION_UID_BASE + (start + step) % SESSION_UID_SPAN
        fd = os.open(os.path.join(lock_dir, f"{uid}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return UidLease(uid, fd)
    raise SandboxUnavailableError(f"every session uid is in use (lock files in {lock_dir})")
