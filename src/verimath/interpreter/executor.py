"""The executor protocol: what ``eval`` and ``solve`` need of an interpreter.

The local :class:`~verimath.interpreter.Interpreter` and the HTTP client
:class:`~verimath.interpreter.RemoteInterpreter` both implement it, so the agent loop runs its
cells in either without knowing which.
"""

from __future__ import annotations

from typing import Protocol

from verimath.interpreter.limits import Limits
from verimath.interpreter.result import CellResult


class NotebookSession(Protocol):
    """One notebook: cells share variables until it is closed or ends."""

    cell_count: int

    def run(self, code: str, timeout: float | None = None) -> CellResult:
        """Run one cell and wait for it; never raises for anything the code does."""
        ...

    async def arun(self, code: str, timeout: float | None = None) -> CellResult:
        """Run one cell on the running event loop."""
        ...

    def close(self) -> None:
        """End the session (its variables are gone)."""
        ...

    def __enter__(self) -> NotebookSession: ...

    def __exit__(self, *exc_info: object) -> None: ...


class Executor(Protocol):
    """Hands out notebook sessions; ``SandboxUnavailableError`` when it cannot run code."""

    limits: Limits

    def start(self) -> Executor:
        """Get ready now (start the fork server, reach the sandbox host) rather than later."""
        ...

    def session(self, seed: int | None = None) -> NotebookSession:
        """A new notebook session, its random generators seeded with ``seed`` (a fresh seed
        when None)."""
        ...

    def close(self) -> None:
        """End every session and release the executor."""
        ...

    async def __aenter__(self) -> Executor:
        """``start``, off the event loop."""
        ...

    async def __aexit__(self, *exc_info: object) -> None:
        """``close``, once what is in flight on this event loop is done."""
        ...


def executor_for(
    limits: Limits | None,
    sandbox: str | None = None,
    token: str | None = None,
    pool_size: int = 0,
) -> Executor:
    """The local interpreter (keeping ``pool_size`` sessions started ahead), or the ``verimath
    serve`` host at ``sandbox`` (not started)."""
    if sandbox is None:
        from verimath.interpreter.session import Interpreter

        return Interpreter(limits, pool_size=pool_size)
    from verimath.interpreter import RemoteInterpreter

    remote: Executor = RemoteInterpreter(sandbox, token=token, limits=limits)
    return remote
