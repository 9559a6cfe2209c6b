"""Sandboxed, stateful Python for model-written code.

A fork server with sympy, numpy and scipy already imported forks one child per session; cells
of a session share their variables, as in a notebook. See ``launcher`` for the isolation layers.
``RemoteInterpreter`` runs the same sessions on a ``verimath serve`` host, behind the same
``Executor`` protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from verimath.interpreter.executor import Executor, NotebookSession
from verimath.interpreter.launcher import Layer
from verimath.interpreter.limits import Limits
from verimath.interpreter.result import CellResult, CellStatus
from verimath.interpreter.session import Interpreter, SandboxDegradedWarning, Session

if TYPE_CHECKING:
    from verimath.interpreter.remote import RemoteInterpreter, RemoteSession

__all__ = [
    "CellResult",
    "CellStatus",
    "Executor",
    "Interpreter",
    "Layer",
    "Limits",
    "NotebookSession",
    "RemoteInterpreter",
    "RemoteSession",
    "SandboxDegradedWarning",
    "Session",
]


def __getattr__(name: str) -> object:
    """The HTTP client loads aiohttp: only when it is used."""
    if name in ("RemoteInterpreter", "RemoteSession"):
        try:
            from verimath.interpreter import remote
        except ModuleNotFoundError as exc:
            from verimath.errors import ConfigError

            raise ConfigError(
                f"RemoteInterpreter needs {exc.name}: pip install 'verimath[serve]'"
            ) from exc
        return getattr(remote, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
