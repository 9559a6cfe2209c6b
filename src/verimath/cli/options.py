"""Options shared by several subcommands, as decorators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from verimath.interpreter import Limits

DEFAULT_LIMITS = Limits()


def sandbox_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--timeout``, ``--memory-mb`` and ``--max-output`` for commands that run code.

    Their environment variables are ``VERIMATH_<COMMAND>_TIMEOUT``, ``..._MEMORY_MB`` and
    ``..._MAX_OUTPUT``.
    """
    command = click.option(
        "--max-output",
        type=click.IntRange(min=100),
        default=DEFAULT_LIMITS.max_output_chars,
        show_default=True,
        help="Characters of output kept per cell (head and tail).",
    )(command)
    command = click.option(
        "--memory-mb",
        type=click.IntRange(min=64),
        default=DEFAULT_LIMITS.memory_mb,
        show_default=True,
        help="Memory a session may allocate.",
    )(command)
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=DEFAULT_LIMITS.timeout_s,
        show_default=True,
        help="Soft time limit per cell, in seconds.",
    )(command)


def limits_from(timeout: float, memory_mb: int, max_output: int) -> Limits:
    """Limits built from the values of ``sandbox_options``."""
    return Limits(timeout_s=timeout, memory_mb=memory_mb, max_output_chars=max_output)
