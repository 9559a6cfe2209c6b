"""CPU time of another process, as the kernel counts it: what CPU-time limits are judged on."""

from __future__ import annotations

import time

__all__ = ["process_cpu_s"]


def process_cpu_s(pid: int) -> float:
    """CPU seconds process ``pid`` has used (all its threads, user and system); 0.0 once it is
    gone. Reads the process's CPU clock: no file to open, nanosecond resolution."""
    clock = ((~pid) << 3) | 2  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
    try:
        return time.clock_gettime(clock)
    except OSError:
        return 0.0
