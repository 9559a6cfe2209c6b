"""verimath: math word problems solved by a language model that writes Python, runs it in a
sandboxed notebook, verifies its answer with more code, and votes over several samples.

    import verimath
    solution = verimath.solve("What is 2^10 - 1?", model="openai:gpt-4o", samples=4)
    solution.answer            # '1023'
    result = verimath.evaluate("math500", model="openai:gpt-4o", samples=4, limit=20)
    result.summary.accuracy    # of the weighted vote; every sample is in result.path
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from verimath.errors import VerimathError

if TYPE_CHECKING:
    from verimath.config import RunConfig, SolveOptions
    from verimath.evaluation import RunResult, aevaluate, evaluate
    from verimath.solver import Solution, asolve, solve

__all__ = [
    "RunConfig",
    "RunResult",
    "Solution",
    "SolveOptions",
    "VerimathError",
    "__version__",
    "aevaluate",
    "asolve",
    "evaluate",
    "solve",
]

__version__ = "0.1.0"

_LAZY = {
    "solve": "verimath.solver",
    "asolve": "verimath.solver",
    "Solution": "verimath.solver",
    "SolveOptions": "verimath.config",
    "RunConfig": "verimath.config",
    "evaluate": "verimath.evaluation",
    "aevaluate": "verimath.evaluation",
    "RunResult": "verimath.evaluation",
}


def __getattr__(name: str) -> Any:
    # the solver pulls in the model SDKs and the grader; `import verimath` stays light
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'verimath' has no attribute {name!r}")
