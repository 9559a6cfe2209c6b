"""verimath: math word problems solved by a language model that writes Python, runs it in a
sandboxed notebook, verifies its answer with more code, and votes over several samples.

    import verimath
    solution = verimath.solve("What is 2^10 - 1?", model="openai:gpt-4o", samples=4)
    solution.answer            # '1023'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from verimath.errors import VerimathError

if TYPE_CHECKING:
    from verimath.solver import Solution, SolveOptions, asolve, solve

__all__ = ["Solution", "SolveOptions", "VerimathError", "__version__", "asolve", "solve"]

__version__ = "0.1.0"

_LAZY = {"solve", "asolve", "Solution", "SolveOptions"}


def __getattr__(name: str) -> Any:
    # the solver pulls in the model SDKs and the grader; `import verimath` stays light
    if name in _LAZY:
        from verimath import solver

        return getattr(solver, name)
    raise AttributeError(f"module 'verimath' has no attribute {name!r}")
