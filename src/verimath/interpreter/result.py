"""What running one cell produced."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CellStatus(StrEnum):
    """How a cell ended."""

    OK = "ok"
    """Ran to the end."""
    ERROR = "error"
    """Raised an exception (syntax errors included); the session lives on."""
    TIMEOUT = "timeout"
    """Interrupted at its soft time limit; the session and its variables live on."""
    MEMORY = "memory"
    """Ran out of its memory limit (MemoryError); the session lives on."""
    KILLED = "killed"
    """The session process died or was killed (hard time limit, crash, ``os._exit``);
    its variables are lost and the next cell starts a fresh session."""


@dataclass(frozen=True)
class CellResult:
    """The outcome of one cell."""

    output: str
    """stdout + stderr as shown to the model: cut head+tail, tracebacks with cell frames only."""
    status: CellStatus
    duration_s: float
    """Wall time of the cell as seen by the host, sandbox round trip included."""
    cell_index: int
    """1-based index of the cell within its session (counting across restarts)."""
    restarted: bool = False
    """True when the session's earlier state was lost before this cell ran."""
    detail: str | None = None
    """Why the session ended, when this cell ended it: for ``killed`` the signal, exit status,
    time limit or broken reply; for a cell that left threads running, that (its status is its
    own, the next cell starts a fresh session)."""
    cpu_s: float = 0.0
    """CPU time the cell used in its session (0 when the session died before reporting)."""

    @property
    def ok(self) -> bool:
        return self.status is CellStatus.OK

    def to_dict(self) -> dict[str, object]:
        return {
            "status": str(self.status),
            "output": self.output,
            "duration_s": round(self.duration_s, 6),
            "cell_index": self.cell_index,
            "restarted": self.restarted,
            "detail": self.detail,
            "cpu_s": round(self.cpu_s, 6),
        }
