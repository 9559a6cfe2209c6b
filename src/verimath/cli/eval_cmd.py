"""``verimath eval``: a dataset x k samples into a resumable run store, then a summary."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from verimath.cli.options import (
    METHOD_KEYS,
    http_model_options,
    limits_from,
    method_options,
    sandbox_options,
    solve_options_from,
)
from verimath.cli.progress import DEFAULT_LOG_INTERVAL, EvalProgressDisplay
from verimath.cli.run_names import default_run_name, model_label
from verimath.cli.summary_view import print_summary
from verimath.datasets import Problem, load_dataset, select
from verimath.engine import DEFAULT_CONCURRENCY, Engine, LocalExecutor, SampleExecutor
from verimath.grading import Grader
from verimath.models import ChatModel, resolve_model
from verimath.models.endpoints import EndpointStats, endpoint_stats
from verimath.models.replay import ReplayModel
from verimath.models.transcripts import normalize_question
from verimath.provenance import versions
from verimath.solver import SolveOptions, solver_parts
from verimath.store import RunStore
from verimath.summary import RunSummary, summarize

RUNS_DIR = Path("runs")


@click.command("eval")
@click.argument("dataset")
@method_options
@click.option(
    "--run",
    "run_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Run store file (default: runs/<dataset>-<model>-<strategy>-k<k>.sqlite).",
)
@click.option("--new", is_flag=True, help="Start over: an existing run file is moved aside.")
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
def command(
    dataset: str,
    model: str | None,
    run_path: Path | None,
    new: bool,
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
    retries: int,
    **method: Any,
) -> None:
    """Evaluate a model on DATASET (math, math500, gsm8k, a known set, a file, hf:...)."""
    problems = load_dataset(
        dataset,
        question_field=question_field,
        answer_field=answer_field,
        id_field=id_field,
        data_dir=data_dir,
    )
    problems = select(
        problems,
        subjects=subject or None,
        levels=level or None,
        ids=ids.split(",") if ids else None,
        limit=limit,
        shuffle=shuffle,
        seed=method["seed"],
    )
    options = solve_options_from(method, None)
    config = run_config(
        dataset,
        model,
        method,
        limit,
        subject,
        level,
        ids,
        shuffle,
        timeout,
        memory_mb,
        max_output,
        [p.id for p in problems],
    )
    path = run_path or default_run_path(dataset, model, options)
    if new:
        move_aside(path)
    console = Console(stderr=True, quiet=as_json)
    limits = limits_from(timeout, memory_mb, max_output)
    with RunStore(path) as store:
        resumed = store.bind_config(config, versions())
        console.print(f"{'resuming' if resumed else 'new run'}: {path}")
        summary, recorded, endpoints = asyncio.run(
            _evaluate(
                problems,
                model,
                options,
                limits,
                http_model_options(model, retries),
                store,
                concurrency,
                console,
                ray_address,
                progress_every,
            )
        )
        if export:
            export_samples(store, export)
    endpoint_dicts = [e.to_dict() for e in endpoints]
    if as_json:
        click.echo(
            json.dumps(
                {
                    **summary.to_dict(),
                    "run": str(path),
                    "recorded_accuracy": recorded,
                    **({"endpoints": endpoint_dicts} if endpoints else {}),
                }
            )
        )
    else:
        print_summary(Console(), summary, path, recorded)
        print_endpoints(Console(), endpoints)


async def _evaluate(
    problems: list[Problem],
    model: str | None,
    options: SolveOptions,
    limits: Any,
    model_options: dict[str, Any],
    store: RunStore,
    concurrency: int,
    console: Console,
    ray_address: str | None = None,
    progress_every: float = DEFAULT_LOG_INTERVAL,
) -> tuple[RunSummary, float | None, list[EndpointStats]]:
    parts = _run_parts(model, options, limits, model_options, store, concurrency, ray_address)
    async with parts as (chat_model, executor, grader):
        recorded = None
        if isinstance(chat_model, ReplayModel):
            problems, recorded = restrict_to_recording(chat_model, problems)
            console.print(f"replaying {len(problems)} recorded problems")
        store.add_problems(problems)
        display = EvalProgressDisplay(
            console,
            _model_name(chat_model, executor),
            label=model_label(model),
            interval=progress_every,
        )
        engine = Engine(executor, grader, store, options, on_progress=display.update)
        started = time.monotonic()
        try:
            with display:
                await engine.run(problems)
        except (KeyboardInterrupt, asyncio.CancelledError):
            console.print(
                f"[yellow]interrupted: {engine.progress.samples_done} samples are "
                "saved; rerun the same command to resume[/yellow]"
            )
            raise
        console.print(
            f"{engine.progress.samples_done} samples in "
            f"{time.monotonic() - started:.1f} s "
            f"({_cache_hits(executor)} model calls answered from the run's cache)"
        )
        if hasattr(executor, "describe"):
            console.print(executor.describe())
        endpoints = await _endpoint_stats(executor)
        return summarize(store), recorded, endpoints


@contextlib.asynccontextmanager
async def _run_parts(
    model: str | None,
    options: SolveOptions,
    limits: Any,
    model_options: dict[str, Any],
    store: RunStore,
    concurrency: int,
    ray_address: str | None,
) -> AsyncIterator[tuple[ChatModel | None, SampleExecutor, Grader]]:
    """The model as the driver knows it (None on Ray, unless it is a replay), the executor
    of the samples, and the grader of the votes."""
    if ray_address is None:
        async with solver_parts(model, limits, **model_options) as (chat_model, interp, grader):
            cache = not isinstance(chat_model, ReplayModel)
            yield (
                chat_model,
                LocalExecutor(
                    chat_model,
                    interp,
                    grader,
                    options,
                    store=store if cache else None,
                    concurrency=concurrency,
                ),
                grader,
            )
        return
    from verimath.distributed import ray_executor, ray_runtime

    replay = (model or "").strip().startswith("replay:")
    driver_model = resolve_model(model, **model_options) if replay else None
    # Ray prints cluster events (a node lost...) on stdout, which holds the results here
    with contextlib.redirect_stdout(sys.stderr), ray_runtime(ray_address), Grader() as grader:
        async with ray_executor(
            model,
            options,
            limits=limits,
            model_options=model_options,
            store=None if replay else store,
            concurrency=concurrency,
        ) as executor:
            yield driver_model, executor, grader


def _model_name(chat_model: ChatModel | None, executor: Any) -> str:
    return chat_model.name if chat_model is not None else str(executor.model_name)


def _cache_hits(executor: Any) -> int:
    if isinstance(executor, LocalExecutor):
        return executor.model.hits
    return int(getattr(executor, "cache_hits", 0))


async def _endpoint_stats(executor: Any) -> list[EndpointStats]:
    """Per-endpoint counters of a multi-endpoint model (empty otherwise)."""
    if isinstance(executor, LocalExecutor):
        return endpoint_stats(executor.model)
    return list(await executor.endpoint_stats())


def print_endpoints(console: Console, endpoints: list[EndpointStats]) -> None:
    """One line per model endpoint: requests, failures, in flight."""
    for e in endpoints:
        state = " (backed off)" if e.out else ""
        console.print(
            f"endpoint {e.base_url}: {e.requests} requests, {e.failures} failures, "
            f"{e.in_flight} in flight{state}"
        )


def restrict_to_recording(
    model: ChatModel, problems: list[Problem]
) -> tuple[list[Problem], float | None]:
    """The problems the recording holds, and the accuracy recorded for them."""
    recorded = {normalize_question(p.question): p for p in model.problems}  # type: ignore[attr-defined]
    kept = [p for p in problems if normalize_question(p.question) in recorded]
    labels = [recorded[normalize_question(p.question)].correct for p in kept]
    known = [label for label in labels if label is not None]
    return kept, (sum(known) / len(known) if known else None)


def run_config(
    dataset: str,
    model: str | None,
    method: dict[str, Any],
    limit: int | None,
    subject: tuple[str, ...],
    level: tuple[int, ...],
    ids: str | None,
    shuffle: bool,
    timeout: float,
    memory_mb: int,
    max_output: int,
    problem_ids: list[str],
) -> dict[str, Any]:
    """Everything that shapes the results of a run (not how fast it goes)."""
    return {
        "dataset": dataset,
        "model": model or "local",
        **{key: method[key] for key in METHOD_KEYS},
        "limit": limit,
        "subject": list(subject),
        "level": list(level),
        "ids": ids,
        "shuffle": shuffle,
        "timeout": timeout,
        "memory_mb": memory_mb,
        "max_output": max_output,
        "problem_count": len(problem_ids),
    }


def default_run_path(dataset: str, model: str | None, options: SolveOptions) -> Path:
    return RUNS_DIR / default_run_name(dataset, model, options.strategy, options.samples)


def move_aside(path: Path) -> None:
    """Keep an earlier run under a timestamped name instead of deleting it."""
    if not path.exists():
        return
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{path}{suffix}")
        if old.exists():
            old.rename(path.with_name(f"{path.stem}.{stamp}{path.suffix}{suffix}"))


def export_samples(store: RunStore, destination: Path) -> None:
    """One JSON line per stored sample, with its problem's gold answer."""
    gold = {p["problem_id"]: p for p in store.problems()}
    with destination.open("w", encoding="utf-8") as sink:
        for sample in store.samples():
            problem = gold[sample["problem_id"]]
            line = {
                **sample,
                "gold": problem["gold"],
                "subject": problem["subject"],
                "level": problem["level"],
            }
            sink.write(json.dumps(line, ensure_ascii=False) + "\n")
