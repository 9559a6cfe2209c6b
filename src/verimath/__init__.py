"""verimath: math word problems solved by a language model that writes Python, runs it in a
sandboxed notebook, verifies its answer with more code, and votes over several samples."""

from __future__ import annotations

from verimath.errors import VerimathError

__all__ = ["VerimathError", "__version__"]

__version__ = "0.1.0"
