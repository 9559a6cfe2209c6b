"""``verimath solve``: one problem, k samples with code, verified and voted, shown as it runs."""

from __future__ import annotations

import asyncio
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from verimath.cli.options import (
    EXIT_INCOMPLETE,
    limits_from,
    method_options,
    remote_sandbox_options,
    sandbox_options,
    solve_options_from,
)
from verimath.cli.render import render_failure, render_sample, render_votes
from verimath.config import SolveOptions, http_model_options
from verimath.interpreter import Limits
from verimath.solver import Solution, solve_with, solver_parts
from verimath.terminal import for_terminal, json_for_terminal


@click.command("solve")
@click.argument("problem")
@method_options
@click.option("--dataset", default=None, help="Answer rules of a dataset (gsm8k, math, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, nothing else.")
@sandbox_options
@remote_sandbox_options
def command(
    problem: str,
    model: str | None,
    dataset: str | None,
    as_json: bool,
    timeout: float,
    memory_mb: int,
    max_output: int,
    sandbox: str | None,
    sandbox_token: str | None,
    retries: int,
    request_timeout: float,
    max_response_mb: float,
    **method: Any,
) -> None:
    """Solve PROBLEM with code, self-verification and verification-weighted voting."""
    options = solve_options_from(method, dataset)
    console = Console(stderr=as_json, quiet=as_json)
    limits = limits_from(timeout, memory_mb, max_output)
    model_options = http_model_options(model, retries, request_timeout, max_response_mb)
    parts = {"sandbox": sandbox, "sandbox_token": sandbox_token, **model_options}
    solution = asyncio.run(_solve(problem, model, options, limits, parts, console))
    if as_json:
        click.echo(json_for_terminal(solution.to_dict()))
    else:
        render_votes(console, solution)
    if solution.failures:
        failed, drawn = len(solution.failures), len(solution.failures) + len(solution.samples)
        Console(stderr=True).print(
            f"{failed} of {drawn} samples failed (shown above); the answer is the vote of the "
            f"other {len(solution.samples)}"
        )
        raise click.exceptions.Exit(EXIT_INCOMPLETE)


async def _solve(
    problem: str,
    model: str | None,
    options: SolveOptions,
    limits: Limits,
    parts: dict[str, Any],
    console: Console,
) -> Solution:
    """Solve with the parts ``solver_parts`` makes of ``parts``: where the sandbox is and the
    model's HTTP options."""
    async with solver_parts(model, limits, **parts) as (chat_model, interpreter, grader):
        console.print(
            Text.assemble(
                (for_terminal(chat_model.name), "bold"),
                f" · strategy {options.strategy} · {options.samples} sample(s)",
            )
        )
        with console.status("sampling ..."):
            return await solve_with(
                chat_model,
                interpreter,
                grader,
                problem,
                options,
                on_sample=lambda index, trajectory: render_sample(console, index, trajectory),
                on_failure=lambda failure: render_failure(Console(stderr=True), failure),
            )
