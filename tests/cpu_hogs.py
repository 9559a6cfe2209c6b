"""Starving one process of CPU: busy loops pinned to its core, for tests of CPU-time limits."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator


@contextlib.contextmanager
def crowded_core(pid: int, hogs: int = 6) -> Iterator[None]:
    """Pin ``pid`` to one core and run ``hogs`` busy loops on that core while inside.

    Each hog runs in its own session: the scheduler's autogroups would otherwise share the
    core out between groups, not processes, and the hogs would take only half of it.
    """
    core = {min(os.sched_getaffinity(0))}
    os.sched_setaffinity(pid, core)
    code = f"import os; os.sched_setaffinity(0, {core!r})\nwhile True: pass"
    started = [
        subprocess.Popen([sys.executable, "-c", code], start_new_session=True) for _ in range(hogs)
    ]
    try:
        time.sleep(0.5)  # the hogs are up and spinning
        yield
    finally:
        for process in started:
            process.kill()
            process.wait()
