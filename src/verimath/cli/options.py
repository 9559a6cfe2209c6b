"""Options shared by several subcommands, as decorators."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from verimath.interpreter import Limits

if TYPE_CHECKING:
    from verimath.adaptive import AdaptivePolicy
    from verimath.config import SolveOptions

DEFAULT_LIMITS = Limits()


EXIT_INCOMPLETE = 3
"""Exit code of an eval or solve that ended with samples missing (they failed; an eval rerun
retries them)."""


def sandbox_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--timeout``, ``--memory-mb``, ``--max-output`` and ``--unsafe-no-sandbox`` for commands
    that run code.

    Their environment variables are ``VERIMATH_<COMMAND>_TIMEOUT``, ``..._MEMORY_MB`` and
    ``..._MAX_OUTPUT``; ``--unsafe-no-sandbox`` is ``VERIMATH_UNSAFE_NO_SANDBOX=1``, which the
    library reads too.
    """
    command = click.option(
        "--unsafe-no-sandbox",
        is_flag=True,
        envvar="VERIMATH_UNSAFE_NO_SANDBOX",
        expose_value=False,
        callback=_allow_unsandboxed,
        help="Run model code even when sandbox layers are missing (UNSAFE).",
    )(command)
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
        help="Soft time limit per cell, in CPU seconds (a cell that waits is stopped after "
        "10 times that in wall-clock seconds).",
    )(command)


def _allow_unsandboxed(context: click.Context, parameter: click.Parameter, value: bool) -> None:
    if value:
        os.environ["VERIMATH_UNSAFE_NO_SANDBOX"] = "1"  # what Interpreter() reads
        click.secho(
            "WARNING: --unsafe-no-sandbox: model-written code may run WITHOUT isolation.",
            fg="red",
            bold=True,
            err=True,
        )


def limits_from(timeout: float, memory_mb: int, max_output: int) -> Limits:
    """Limits built from the values of ``sandbox_options``."""
    return Limits(timeout_s=timeout, memory_mb=memory_mb, max_output_chars=max_output)


def method_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The model and the method: everything ``SolveOptions`` holds, plus ``--retries``,
    ``--request-timeout`` and ``--max-response-mb`` for HTTP servers."""
    from verimath.adaptive import DEFAULT_THRESHOLD, DEFAULT_WAVE
    from verimath.config import DEFAULT_RETRIES, SolveOptions
    from verimath.models.http_defaults import DEFAULT_MAX_RESPONSE_MB, DEFAULT_TIMEOUT_S
    from verimath.prompts import strategy_names

    solve = SolveOptions()
    generate = solve.generate

    decorators = [
        click.option(
            "--model",
            "-m",
            default=None,
            metavar="SPEC",
            help="openai:NAME[@URL], local[:PATH.gguf], replay:FILE (default: local).",
        ),
        click.option(
            "--strategy",
            "-s",
            type=click.Choice(strategy_names()),
            default=solve.strategy,
            show_default=True,
            help="Prompting strategy.",
        ),
        click.option(
            "--samples",
            "-k",
            type=click.IntRange(min=1),
            default=solve.samples,
            show_default=True,
            help="Solutions sampled and voted over, per problem.",
        ),
        click.option(
            "--weights",
            default=solve.weights.spec(),
            show_default=True,
            metavar="T,U,F",
            help="Vote weights of verification states True, Uncertain, False.",
        ),
        click.option(
            "--tool-style",
            type=click.Choice(["fenced", "function"]),
            default=None,
            help="How code is exchanged (default: fenced when the model can).",
        ),
        click.option(
            "--temperature",
            type=click.FloatRange(min=0),
            default=generate.temperature,
            show_default=True,
        ),
        click.option(
            "--top-p",
            type=click.FloatRange(min=0, max=1),
            default=generate.top_p,
            show_default=True,
        ),
        click.option(
            "--max-tokens",
            type=click.IntRange(min=16),
            default=generate.max_tokens,
            show_default=True,
            help="Tokens per model turn.",
        ),
        click.option(
            "--seed",
            type=int,
            default=solve.seed,
            show_default=True,
            help="Sample i uses seed + i; its sandbox's random generators are seeded from "
            "seed, problem and i.",
        ),
        click.option(
            "--max-code",
            type=click.IntRange(min=1),
            default=solve.max_code_executions,
            show_default=True,
            help="Code executions allowed per sample.",
        ),
        click.option(
            "--revise",
            type=click.IntRange(min=0),
            default=solve.revise,
            show_default=True,
            help="Times a sample whose verification says False is asked to revise.",
        ),
        click.option(
            "--enforce-code-rule",
            is_flag=True,
            help="Refuse code beyond the strategy's rule (no_code, code_once).",
        ),
        click.option(
            "--adaptive",
            type=click.Choice(["exact", "probabilistic"]),
            default=None,
            help="Draw samples in waves; stop when the rest cannot (exact) or very probably "
            "will not (probabilistic) change the winner.",
        ),
        click.option(
            "--wave",
            type=click.IntRange(min=1),
            default=DEFAULT_WAVE,
            show_default=True,
            help="With --adaptive: samples drawn between two checks.",
        ),
        click.option(
            "--threshold",
            type=click.FloatRange(min=0, max=1),
            default=DEFAULT_THRESHOLD,
            show_default=True,
            help="With --adaptive probabilistic: stop when P(winner changes) is below this.",
        ),
        click.option(
            "--retries",
            type=click.IntRange(min=0),
            default=DEFAULT_RETRIES,
            show_default=True,
            help="Retries of a failed request to an HTTP model server.",
        ),
        click.option(
            "--request-timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=DEFAULT_TIMEOUT_S,
            show_default=True,
            help="Seconds one request to an HTTP model server may take in all, connecting "
            "and every read included (a deadline, not a per-read timeout; then the request is "
            "retried).",
        ),
        click.option(
            "--max-response-mb",
            type=click.FloatRange(min=0, min_open=True),
            default=DEFAULT_MAX_RESPONSE_MB,
            show_default=True,
            help="Largest reply accepted from an HTTP model server, in MiB, raw and "
            "decompressed (a larger one fails the request).",
        ),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def solve_options_from(values: dict[str, Any], dataset: str | None) -> SolveOptions:
    """``SolveOptions`` from the values of ``method_options``."""
    from verimath.config import SolveOptions
    from verimath.models import GenerateConfig
    from verimath.voting import Weights

    return SolveOptions(
        strategy=values["strategy"],
        samples=values["samples"],
        weights=Weights.parse(values["weights"]),
        tool_style=values["tool_style"],
        generate=GenerateConfig(
            temperature=values["temperature"],
            top_p=values["top_p"],
            max_tokens=values["max_tokens"],
        ),
        seed=values["seed"],
        max_code_executions=values["max_code"],
        revise=values["revise"],
        enforce_code_rule=values["enforce_code_rule"],
        dataset=dataset,
        adaptive=adaptive_policy(values),
    )


def adaptive_policy(values: dict[str, Any]) -> AdaptivePolicy | None:
    """The ``AdaptivePolicy`` of ``--adaptive/--wave/--threshold``, or None."""
    from verimath.adaptive import AdaptivePolicy

    if values["adaptive"] is None:
        return None
    return AdaptivePolicy(
        mode=values["adaptive"], wave=values["wave"], threshold=values["threshold"]
    )
