"""Evaluate a model on a dataset: ``verimath.evaluate()``, which ``verimath eval`` calls.

    result = verimath.evaluate("math500", model="openai:gpt-4o", samples=8, limit=50)
    result.summary.accuracy, result.path

Every problem x k samples runs into a resumable run file (see :mod:`verimath.store`): calling
again with the same configuration resumes and ends with the same results; a different
configuration is refused unless ``new=True``. The samples run in this process or on Ray
(``ray_address``), behind one :class:`~verimath.engine.SampleExecutor` protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from verimath.config import RunConfig, http_model_options
from verimath.datasets import Problem, load_dataset, select
from verimath.engine import Engine, LocalExecutor, Progress, ProgressCallback, SampleExecutor
from verimath.grading import Grader
from verimath.models import ChatModel, ModelSpec, resolve_model
from verimath.models.endpoints import EndpointStats
from verimath.models.replay import ReplayModel
from verimath.models.transcripts import normalize_question
from verimath.provenance import versions
from verimath.run_names import default_run_name
from verimath.solver import solver_parts
from verimath.store import RunStore
from verimath.summary import RunSummary, summarize

__all__ = [
    "RUNS_DIR",
    "RunMonitor",
    "RunResult",
    "aevaluate",
    "default_run_path",
    "evaluate",
    "evaluate_config",
    "export_samples",
    "restrict_to_recording",
]

RUNS_DIR = Path("runs")


@dataclass(frozen=True)
class RunResult:
    """A finished (or resumed to its end) evaluation."""

    path: Path
    """The run file, which holds every sample, cell and vote."""
    config: RunConfig
    resumed: bool
    """Whether the run file held part of this run already."""
    summary: RunSummary
    recorded_accuracy: float | None
    """Replay only: the accuracy the recording reports for the problems replayed."""
    endpoints: tuple[EndpointStats, ...]
    """Per-endpoint counters of a model served by several endpoints (else empty)."""
    cache_hits: int
    """Model calls answered from the run's response cache."""
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The summary with the run file, the recorded accuracy and endpoints (JSON-ready)."""
        endpoints = [e.to_dict() for e in self.endpoints]
        return {
            **self.summary.to_dict(),
            "run": str(self.path),
            "recorded_accuracy": self.recorded_accuracy,
            **({"endpoints": endpoints} if endpoints else {}),
        }


class RunMonitor(Protocol):
    """What an evaluation tells its caller as it goes (``verimath eval`` shows it)."""

    def note(self, text: str) -> None:
        """A line of news: the run file, resuming, replay, the time taken."""
        ...

    def warn(self, text: str) -> None:
        """A line the user should not miss (an interrupted run)."""
        ...

    def watch(self, model_name: str) -> AbstractContextManager[ProgressCallback]:
        """Live progress while the samples run: a callback fed with the engine's totals."""
        ...


class _Silent:
    def note(self, text: str) -> None:
        pass

    def warn(self, text: str) -> None:
        pass

    @contextlib.contextmanager
    def watch(self, model_name: str) -> Iterator[ProgressCallback]:
        yield lambda progress: None


def evaluate(
    dataset: str,
    *,
    model: str | None = None,
    monitor: RunMonitor | None = None,
    **options: Any,
) -> RunResult:
    """Evaluate ``model`` on ``dataset``; options are the fields of :class:`RunConfig`,
    :class:`~verimath.config.SolveOptions` and :class:`~verimath.models.GenerateConfig`
    (``samples=8``, ``limit=100``, ``temperature=0``, ``run_path=...``)."""
    return asyncio.run(aevaluate(dataset, model=model, monitor=monitor, **options))


async def aevaluate(
    dataset: str,
    *,
    model: str | None = None,
    monitor: RunMonitor | None = None,
    **options: Any,
) -> RunResult:
    """``evaluate`` for a running event loop."""
    return await evaluate_config(RunConfig.of(dataset, model=model, **options), monitor)


async def evaluate_config(config: RunConfig, monitor: RunMonitor | None = None) -> RunResult:
    """Run (or resume) the evaluation ``config`` describes, to its end."""
    monitor = monitor or _Silent()
    problems = _problems(config)
    path = config.run_path or default_run_path(config)
    if config.new:
        move_aside(path)
    with RunStore(path) as store:
        resumed = store.bind_config(config.record(len(problems)), versions())
        monitor.note(f"{'resuming' if resumed else 'new run'}: {path}")
        async with _executor(config, store) as (recording, executor, grader):
            recorded = None
            if recording is not None:
                problems, recorded = restrict_to_recording(recording, problems)
                monitor.note(f"replaying {len(problems)} recorded problems")
            store.add_problems(problems)
            started = time.monotonic()
            progress = await _run(Engine(executor, grader, store, config.method), problems, monitor)
            seconds = time.monotonic() - started
            monitor.note(
                f"{progress.samples_done} samples in {seconds:.1f} s "
                f"({executor.cache_hits} model calls answered from the run's cache)"
            )
            if (where := executor.describe()) is not None:
                monitor.note(where)
            endpoints = tuple(await executor.endpoint_stats())
            cache_hits = executor.cache_hits
        summary = summarize(store)
        if config.export is not None:
            export_samples(store, config.export)
    return RunResult(path, config, resumed, summary, recorded, endpoints, cache_hits, seconds)


def _problems(config: RunConfig) -> list[Problem]:
    problems = load_dataset(
        config.dataset,
        question_field=config.question_field,
        answer_field=config.answer_field,
        id_field=config.id_field,
        data_dir=config.data_dir,
    )
    return select(
        problems,
        subjects=config.subjects or None,
        levels=config.levels or None,
        ids=config.ids or None,
        limit=config.limit,
        shuffle=config.shuffle,
        seed=config.method.seed,
    )


async def _run(engine: Engine, problems: list[Problem], monitor: RunMonitor) -> Progress:
    try:
        with monitor.watch(engine.executor.model_name) as on_progress:
            engine.on_progress = on_progress
            return await engine.run(problems)
    except (KeyboardInterrupt, asyncio.CancelledError):
        monitor.warn(
            f"interrupted: {engine.progress.samples_done} samples are saved; rerun the same "
            "command to resume"
        )
        raise


@contextlib.asynccontextmanager
async def _executor(
    config: RunConfig, store: RunStore
) -> AsyncIterator[tuple[ReplayModel | None, SampleExecutor, Grader]]:
    """The recording when the model replays one, the executor of the samples (here or on
    Ray), and the grader of the votes."""
    spec = ModelSpec.parse(config.model)
    model_options = http_model_options(config.model, config.retries)
    # a replayed model answers from its recording: caching its responses would only copy it
    cache = None if spec.is_replay else store
    if config.ray_address is None:
        async with solver_parts(config.model, config.limits, **model_options) as parts:
            model, interpreter, grader = parts
            executor = LocalExecutor(
                model,
                interpreter,
                grader,
                config.method,
                store=cache,
                concurrency=config.concurrency,
            )
            yield _recording_of(model), executor, grader
        return
    from verimath.distributed import ray_executor, ray_runtime

    # the workers replay the recording; the driver reads which problems it holds
    recording = (
        _recording_of(resolve_model(config.model, **model_options)) if spec.is_replay else None
    )
    # Ray prints cluster events (a node lost...) on stdout, which holds the results here
    with (
        contextlib.redirect_stdout(sys.stderr),
        ray_runtime(config.ray_address),
        Grader() as grader,
    ):
        async with ray_executor(
            config.model,
            config.method,
            limits=config.limits,
            model_options=model_options,
            store=cache,
            concurrency=config.concurrency,
        ) as ray:
            yield recording, ray, grader


def _recording_of(model: ChatModel) -> ReplayModel | None:
    """The recording a replayed model answers from; None for a model that generates."""
    return model if isinstance(model, ReplayModel) else None


def restrict_to_recording(
    model: ReplayModel, problems: list[Problem]
) -> tuple[list[Problem], float | None]:
    """The problems the recording holds, and the accuracy recorded for them."""
    recorded = {normalize_question(p.question): p for p in model.problems}
    kept = [p for p in problems if normalize_question(p.question) in recorded]
    labels = [recorded[normalize_question(p.question)].correct for p in kept]
    known = [label for label in labels if label is not None]
    return kept, (sum(known) / len(known) if known else None)


def default_run_path(config: RunConfig) -> Path:
    """``runs/<dataset>-<model>-<strategy>-k<k>.sqlite`` (:mod:`verimath.run_names`)."""
    method = config.method
    return RUNS_DIR / default_run_name(
        config.dataset, config.model, method.strategy, method.samples
    )


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
    problems = {p.problem_id: p for p in store.problems()}
    with destination.open("w", encoding="utf-8") as sink:
        for sample in store.samples():
            problem = problems[sample.problem_id]
            line = {
                **sample.to_dict(),
                "position": problem.position,
                "gold": problem.gold,
                "subject": problem.subject,
                "level": problem.level,
            }
            sink.write(json.dumps(line, ensure_ascii=False) + "\n")
