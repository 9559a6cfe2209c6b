"""``verimath solve``: one problem, k samples with code, verified and voted, shown as it runs."""

from __future__ import annotations

import asyncio
import json

import click
from rich.console import Console

from verimath.cli.options import limits_from, sandbox_options
from verimath.cli.render import render_sample, render_votes
from verimath.interpreter import Limits
from verimath.models import GenerateConfig, RetryPolicy
from verimath.prompts import strategy_names
from verimath.solver import DEFAULT_SAMPLES, Solution, SolveOptions, solve_with, solver_parts
from verimath.voting import DEFAULT_WEIGHTS, Weights


@click.command("solve")
@click.argument("problem")
@click.option(
    "--model",
    "-m",
    default=None,
    metavar="SPEC",
    help="openai:NAME[@URL], local[:PATH.gguf], replay:FILE (default: local).",
)
@click.option(
    "--strategy",
    "-s",
    type=click.Choice(strategy_names()),
    default="csv",
    show_default=True,
    help="Prompting strategy.",
)
@click.option(
    "--samples",
    "-k",
    type=click.IntRange(min=1),
    default=DEFAULT_SAMPLES,
    show_default=True,
    help="Solutions sampled and voted over.",
)
@click.option(
    "--weights",
    default=DEFAULT_WEIGHTS.spec(),
    show_default=True,
    metavar="T,U,F",
    help="Vote weights of verification states True, Uncertain, False.",
)
@click.option(
    "--tool-style",
    type=click.Choice(["fenced", "function"]),
    default=None,
    help="How code is exchanged (default: fenced when the model can).",
)
@click.option("--temperature", type=click.FloatRange(min=0), default=0.7, show_default=True)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=16),
    default=2048,
    show_default=True,
    help="Tokens per model turn.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sample i uses seed + i.")
@click.option(
    "--max-code",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Code executions allowed per sample.",
)
@click.option(
    "--revise",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Times a sample whose verification says False is asked to revise.",
)
@click.option(
    "--enforce-code-rule",
    is_flag=True,
    help="Refuse code beyond the strategy's rule (no_code, code_once).",
)
@click.option("--dataset", default=None, help="Answer rules of a dataset (gsm8k, math, ...).")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Retries of a failed request to an HTTP model server.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, nothing else.")
@sandbox_options
def command(
    problem: str,
    model: str | None,
    strategy: str,
    samples: int,
    weights: str,
    tool_style: str | None,
    temperature: float,
    max_tokens: int,
    seed: int,
    max_code: int,
    revise: int,
    enforce_code_rule: bool,
    dataset: str | None,
    retries: int,
    as_json: bool,
    timeout: float,
    memory_mb: int,
    max_output: int,
) -> None:
    """Solve PROBLEM with code, self-verification and verification-weighted voting."""
    options = SolveOptions(
        strategy=strategy,
        samples=samples,
        weights=Weights.parse(weights),
        tool_style=tool_style,
        generate=GenerateConfig(temperature=temperature, max_tokens=max_tokens),
        seed=seed,
        max_code_executions=max_code,
        revise=revise,
        enforce_code_rule=enforce_code_rule,
        dataset=dataset,
    )
    console = Console(stderr=as_json, quiet=as_json)
    limits = limits_from(timeout, memory_mb, max_output)
    model_options = http_model_options(model, retries)
    solution = asyncio.run(_solve(problem, model, options, limits, model_options, console))
    if as_json:
        click.echo(json.dumps(solution.to_dict(), ensure_ascii=False))
        return
    render_votes(console, solution)


def http_model_options(model: str | None, retries: int) -> dict[str, object]:
    """Backend options that only HTTP backends take."""
    if model is not None and model.startswith("openai:"):
        return {"retry": RetryPolicy(max_attempts=retries + 1)}
    return {}


async def _solve(
    problem: str,
    model: str | None,
    options: SolveOptions,
    limits: Limits,
    model_options: dict[str, object],
    console: Console,
) -> Solution:
    async with solver_parts(model, limits, **model_options) as (chat_model, interpreter, grader):
        console.print(
            f"[bold]{chat_model.name}[/bold] · strategy {options.strategy} · "
            f"{options.samples} sample(s)"
        )
        with console.status("sampling ..."):
            return await solve_with(
                chat_model,
                interpreter,
                grader,
                problem,
                options,
                on_sample=lambda index, trajectory: render_sample(console, index, trajectory),
            )
