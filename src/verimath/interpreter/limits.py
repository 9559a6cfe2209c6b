"""Resource limits of sandboxed sessions: one place for every number the sandbox enforces."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from verimath.errors import ConfigError
from verimath.interpreter.sandbox.protocol import SessionLimits


@dataclass(frozen=True)
class Limits:
    """Limits applied to every session of an interpreter."""

    timeout_s: float = 10.0
    """Soft per-cell limit in CPU seconds of the session's process: a TimeoutError is raised
    inside the cell and the session lives on. CPU time, so that whether a cell finishes does
    not depend on how busy the machine is (or how many cells share a core)."""
    wait_factor: float = 10.0
    """A cell that waits instead of computing (``time.sleep``, a lock) is interrupted the same
    way after ``wait_factor * timeout_s`` wall-clock seconds."""
    grace_s: float = 5.0
    """Past either limit, the CPU (or wall-clock) seconds a cell that does not stop gets before
    its session is killed."""
    memory_mb: int = 2048
    """Address space a session may add on top of the preloaded libraries (RLIMIT_AS)."""
    cpu_s: int = 600
    """CPU seconds per session, all cells together (RLIMIT_CPU; the kernel kills past it)."""
    file_size_mb: int = 64
    """Largest file a session may write (RLIMIT_FSIZE)."""
    open_files: int = 256
    """Open file descriptors per session (RLIMIT_NOFILE)."""
    processes: int = 64
    """Threads per session (RLIMIT_NPROC on the session's own uid; new processes are denied)."""
    max_output_chars: int = 4000
    """Output shown per cell; longer output keeps its head and tail around an omission marker."""
    scratch_mb: int = 256
    """Size of each session's own in-memory scratch file system (its working directory)."""
    scratch_inodes: int = 16384
    """Files and directories each session's scratch file system can hold."""

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigError(
                    f"interpreter limit {name} must be a positive number, got {value!r}"
                )

    def for_session(self) -> SessionLimits:
        """The part the sandbox applies inside a session child."""
        return {
            "memory_mb": self.memory_mb,
            "cpu_s": self.cpu_s,
            "file_size_mb": self.file_size_mb,
            "open_files": self.open_files,
            "processes": self.processes,
            "max_output_chars": self.max_output_chars,
            "scratch_mb": self.scratch_mb,
            "scratch_inodes": self.scratch_inodes,
        }
