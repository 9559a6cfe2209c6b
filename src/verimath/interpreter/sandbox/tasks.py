"""The threads of a process as the kernel reports them, in ``/proc/PID/task``.

One question, asked by the session child (before it reports a cell's end) and by the host (to
judge it): can this thread still run code of its own? A thread the kernel has marked as exiting
(``PF_EXITING`` in the flags of its ``stat``, set on entering ``do_exit``, which never returns to
user space), a dead or zombie one, or one already gone cannot; any other can, whether it is
running, sleeping or stopped.
"""

from __future__ import annotations

import errno
import os

PF_EXITING = 0x00000004
"""``task->flags`` bit of a thread in the kernel's exit path."""
STAT_BYTES = 4096
GONE_ERRNOS = frozenset({errno.ENOENT, errno.ESRCH})
DEAD_STATES = frozenset({b"Z", b"X", b"x"})


def stat_may_run(stat: bytes) -> bool:
    """Whether the thread whose ``stat`` line this is can still run code of its own."""
    fields = stat.rpartition(b")")[2].split()
    if len(fields) < 7 or not fields[6].isdigit():
        return True  # a line this does not understand proves nothing
    state, flags = fields[0], int(fields[6])  # the 3rd and 9th fields
    return state not in DEAD_STATES and not flags & PF_EXITING


def may_run(task_dir_fd: int, tid: int) -> bool:
    """Whether thread ``tid`` in ``task_dir_fd`` (an open ``/proc/PID/task``) can still run code;
    False once it is exiting or gone. Any other error reading it is raised (``OSError``)."""
    try:
        fd = os.open(f"{tid}/stat", os.O_RDONLY | os.O_CLOEXEC, dir_fd=task_dir_fd)
    except OSError as exc:
        if exc.errno in GONE_ERRNOS:
            return False
        raise
    try:
        stat = os.read(fd, STAT_BYTES)
    except OSError as exc:
        if exc.errno in GONE_ERRNOS:
            return False
        raise
    finally:
        os.close(fd)
    return stat_may_run(stat) if stat else False  # empty: it went as it was read


def thread_ids(task_dir_fd: int) -> list[int]:
    """The ids of the threads listed in ``task_dir_fd`` (an open ``/proc/PID/task``)."""
    return [int(name) for name in os.listdir(task_dir_fd) if name.isdigit()]
