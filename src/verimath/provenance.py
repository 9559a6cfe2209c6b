"""What produced a run: package versions and the git revision of verimath's own source."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "verimath",
    "sympy",
    "numpy",
    "scipy",
    "math-verify",
    "latex2sympy2_extended",
    "openai",
    "llama_cpp_python",
)


def versions() -> dict[str, str | None]:
    """Versions of the packages that shape results, Python's, and the source revision."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    found["git_revision"] = git_revision()
    return found


def git_revision() -> str | None:
    """The commit of the checkout verimath runs from (with ``+dirty``), or None."""
    source = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty.strip() else "")
