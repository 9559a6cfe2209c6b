"""``verimath eval``: a dataset x k samples into a resumable run store, then a summary."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
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
from verimath.cli.progress import DEFAULT_LOG_INTERVAL, EvalProgressDisplay
from verimath.cli.signals import until_stopped
from verimath.cli.summary_view import print_summary
from verimath.config import DEFAULT_CONCURRENCY, RunConfig
from verimath.engine import ProgressCallback
from verimath.evaluation import EVAL_POOL_SIZE, evaluate_config
from verimath.interpreter.session import pool_size_from_environment
from verimath.models.endpoints import EndpointStats
from verimath.run_names import model_label
from verimath.terminal import for_terminal, json_for_terminal


@click.command("eval")
@click.argument("dataset")
@method_options
@click.option(
    "--run",
    "run_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Run store file (default: in runs/, named after the dataset, model, strategy and "
    "k, as runs/math-gpt-4o-csv-k4.sqlite).",
)
@click.option("--new", is_flag=True, help="Start over: an existing run file is moved aside.")
@click.option(
    "--regrade",
    is_flag=True,
    help="Resume although problems of the dataset changed: stored samples are graded against "
    "the new gold answers; a problem whose question changed is sampled again.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="First N problems.")
@click.option("--subject", multiple=True, help="Only these subjects (repeatable).")
@click.option("--level", type=int, multiple=True, help="Only these levels (repeatable).")
@click.option("--ids", default=None, help="Only these problem ids, comma-separated.")
@click.option("--shuffle", is_flag=True, help="Shuffle (deterministically, by --seed).")
@click.option("--question-field", default=None, help="Field of the question in a JSONL/CSV.")
@click.option("--answer-field", default=None, help="Field of the gold answer in a JSONL/CSV.")
@click.option("--id-field", default=None, help="Field of the problem id in a JSONL/CSV.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the non-shipped datasets live (also $VERIMATH_DATA_DIR).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Model calls in flight at once.",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Run the samples on Ray (extra 'ray'): alone, a local Ray runtime; with an address "
    "(auto, HOST:PORT, ray://HOST:10001), that cluster. Results are the same either way.",
)
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0),
    default=DEFAULT_LOG_INTERVAL,
    show_default=True,
    metavar="SECONDS",
    help="When standard error is not a terminal (a log, nohup, CI): print one progress line "
    "this often, and one at the end (0: only at the end).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one final JSON object only.")
@click.option(
    "--export",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write one JSON line per sample to this file.",
)
@sandbox_options
@remote_sandbox_options
def command(
    dataset: str,
    model: str | None,
    run_path: Path | None,
    new: bool,
    regrade: bool,
    limit: int | None,
    subject: tuple[str, ...],
    level: tuple[int, ...],
    ids: str | None,
    shuffle: bool,
    question_field: str | None,
    answer_field: str | None,
    id_field: str | None,
    data_dir: Path | None,
    concurrency: int,
    ray_address: str | None,
    progress_every: float,
    as_json: bool,
    export: Path | None,
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
    """Evaluate a model on DATASET (math, math500, gsm8k, a known set, a file, hf:...)."""
    pool_size_from_environment(EVAL_POOL_SIZE)  # a bad VERIMATH_SESSION_POOL stops here, first
    config = RunConfig(
        dataset,
        model=model,
        method=solve_options_from(method, None),
        limits=limits_from(timeout, memory_mb, max_output),
        limit=limit,
        subjects=subject,
        levels=level,
        ids=tuple(ids.split(",")) if ids else (),
        shuffle=shuffle,
        question_field=question_field,
        answer_field=answer_field,
        id_field=id_field,
        data_dir=data_dir,
        run_path=run_path,
        new=new,
        regrade=regrade,
        concurrency=concurrency,
        ray_address=ray_address,
        sandbox=sandbox,
        sandbox_token=sandbox_token,
        retries=retries,
        request_timeout=request_timeout,
        max_response_mb=max_response_mb,
        export=export,
    )
    monitor = ConsoleMonitor(
        Console(stderr=True, quiet=as_json), label=model_label(model), interval=progress_every
    )
    result = asyncio.run(until_stopped(evaluate_config(config, monitor)))
    if as_json:
        click.echo(json_for_terminal(result.to_dict()))
    else:
        print_summary(Console(), result.summary, result.path, result.recorded_accuracy)
        print_endpoints(Console(), list(result.endpoints))
    if result.summary.incomplete:
        raise click.exceptions.Exit(EXIT_INCOMPLETE)


class ConsoleMonitor:
    """The run's news on standard error, with the live progress line (plain lines in a log).

    ``label``: the model's short name for a narrow terminal; ``interval``: seconds between
    progress lines when standard error is not a terminal.
    """

    def __init__(
        self,
        console: Console,
        *,
        label: str | None = None,
        interval: float = DEFAULT_LOG_INTERVAL,
    ) -> None:
        self.console = console
        self.label = label
        self.interval = interval

    def note(self, text: str) -> None:
        self.console.print(for_terminal(text), markup=False)

    def warn(self, text: str) -> None:
        self.console.print(Text(for_terminal(text), style="yellow"))

    @contextlib.contextmanager
    def watch(self, model_name: str) -> Iterator[ProgressCallback]:
        display = EvalProgressDisplay(
            self.console, model_name, label=self.label, interval=self.interval
        )
        with display:
            yield display.update


def print_endpoints(console: Console, endpoints: list[EndpointStats]) -> None:
    """One line per model endpoint: requests, failures, in flight."""
    for e in endpoints:
        state = " (backed off)" if e.out else ""
        console.print(
            Text(
                f"endpoint {for_terminal(e.base_url)}: {e.requests} requests, {e.failures} "
                f"failures, {e.in_flight} in flight{state}"
            )
        )
