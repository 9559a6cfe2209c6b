"""Sandboxed, stateful Python for model-written code.

A fork server with sympy, numpy and scipy already imported forks one child per session; cells
of a session share their variables, as in a notebook. See ``launcher`` for the isolation layers.
"""

from verimath.interpreter.launcher import Layer
from verimath.interpreter.limits import Limits
from verimath.interpreter.result import CellResult, CellStatus
from verimath.interpreter.session import Interpreter, SandboxDegradedWarning, Session

__all__ = [
    "CellResult",
    "CellStatus",
    "Interpreter",
    "Layer",
    "Limits",
    "SandboxDegradedWarning",
    "Session",
]
