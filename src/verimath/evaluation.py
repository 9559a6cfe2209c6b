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
from verimath.datasets.identity import (
    ProblemChange,
    changed_problems,
    content_digest,
    file_digest,
)
from verimath.engine import (
    Engine,
    LocalExecutor,
    Progress,
    ProgressCallback,
    SampleExecutor,
    answer_rules,
)
from verimath.errors import ConfigError, RunConfigMismatchError
from verimath.grading import Grader
from verimath.interpreter import Executor
from verimath.interpreter.session import pool_size_from_environment
from verimath.models import ChatModel, ModelSpec, resolve_model
from verimath.models.endpoints import EndpointStats
from verimath.models.replay import ReplayModel
from verimath.models.transcripts import normalize_question
from verimath.provenance import versions
from verimath.run_names import default_run_name
from verimath.solver import solver_parts
from verimath.storage import write_error
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
EVAL_POOL_SIZE = 4
"""Sessions an evaluation keeps started ahead of need (``VERIMATH_SESSION_POOL`` overrides)."""


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
    record = config.record(len(problems))
    # resolved before any file is written: a missing key or model file fails here
    model = _driver_model(config)
    recorded = None
    if (recording := _recording_of(model) if model else None) is not None:
        problems, recorded = restrict_to_recording(recording, problems)
        monitor.note(f"replaying {len(problems)} recorded problems")
        if (short := recording_shortfall(recording, problems, config.method.samples)) is not None:
            monitor.warn(short)
    if not problems:
        raise ConfigError(f"nothing to evaluate: {_nothing_to_do(config, recording)}")
    if model is not None:
        model.check_reachable()
    with RunStore(path, new=config.new) as store:
        resumed = store.bind_config(record, versions())
        changes = changed_problems(store.problem_contents(), problems) if resumed else []
        if changes and not config.regrade:
            raise RunConfigMismatchError(_changed_dataset(path, changes))
        monitor.note(f"{'resuming' if resumed else 'new run'}: {path}")
        if resumed:
            for line in store.record_resume(config.served(), versions()):
                monitor.note(line)
        else:
            store.record_start(config.served())
        async with _executor(config, model, store) as (executor, grader):
            await _regrade(store, grader, changes, monitor)
            store.add_problems(problems)
            _record_dataset(store, config, problems)
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
        summary = summarize(store, config.method.samples)
        if config.export is not None:
            export_samples(store, config.export)
    return RunResult(path, config, resumed, summary, recorded, endpoints, cache_hits, seconds)


MAX_CHANGES_LISTED = 10


def _changed_dataset(path: Path, changes: list[ProblemChange]) -> str:
    listed = "; ".join(c.describe() for c in changes[:MAX_CHANGES_LISTED])
    more = len(changes) - MAX_CHANGES_LISTED
    listed += f"; and {more} more" if more > 0 else ""
    return (
        f"{path}: {len(changes)} problems of the dataset changed since the run stored them "
        f"({listed}). Rerun with --regrade to grade the stored samples against the new gold "
        "answers (a problem whose question changed is sampled again), restore the dataset, "
        "or start over with --new."
    )


async def _regrade(
    store: RunStore, grader: Grader, changes: list[ProblemChange], monitor: RunMonitor
) -> None:
    """Bring the run to the changed problems: new golds re-grade the stored samples, a new
    question drops the problem's samples (drawn again); votes are retaken by the engine."""
    for change in changes:
        problem = change.new
        if change.question_changed:
            store.drop_samples(problem.id)
        for sample in store.samples(problem.id):
            grade = await grader.agrade(problem.answer, sample.answer, answer_rules(problem))
            store.set_grade(problem.id, sample.sample_index, grade.status)
        store.replace_problem(problem)
    if changes:
        regraded = store.meta("regraded") or []
        regraded.append({"at": time.time(), "changes": [c.describe() for c in changes]})
        store.set_meta("regraded", regraded)
        monitor.note(f"re-graded after dataset changes: {'; '.join(c.describe() for c in changes)}")


def _record_dataset(store: RunStore, config: RunConfig, problems: list[Problem]) -> None:
    """The dataset's identity: a digest of the run's problems, and of the file when it is one."""
    path = Path(config.dataset).expanduser()
    digests = {
        "content_sha256": content_digest(problems),
        "file_sha256": file_digest(path) if path.is_file() else None,
    }
    store.set_meta("dataset_identity", digests)


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


def _driver_model(config: RunConfig) -> ChatModel | None:
    """The model this process calls; None on Ray, where the workers build it (except a
    replay, whose recording the driver reads to pick the problems)."""
    if config.ray_address is None or ModelSpec.parse(config.model).is_replay:
        options = http_model_options(
            config.model, config.retries, config.request_timeout, config.max_response_mb
        )
        return resolve_model(config.model, **options)
    return None


def _nothing_to_do(config: RunConfig, recording: ReplayModel | None) -> str:
    if recording is not None:
        return (
            f"none of the selected problems of {config.dataset} is in the recording "
            f"{config.model}; check that the recording is of this dataset, or widen "
            "--limit/--ids"
        )
    return f"the selection of {config.dataset} holds no problem"


@contextlib.asynccontextmanager
async def _executor(
    config: RunConfig, model: ChatModel | None, store: RunStore
) -> AsyncIterator[tuple[SampleExecutor, Grader]]:
    """The executor of the samples (here or on Ray) and the grader of the votes; the model
    resolved by the caller is closed on exit."""
    try:
        async with _executor_of(config, model, store) as parts:
            yield parts
    finally:
        if model is not None:
            await model.aclose()


@contextlib.asynccontextmanager
async def _executor_of(
    config: RunConfig, model: ChatModel | None, store: RunStore
) -> AsyncIterator[tuple[SampleExecutor, Grader]]:
    spec = ModelSpec.parse(config.model)
    model_options = http_model_options(
        config.model, config.retries, config.request_timeout, config.max_response_mb
    )
    # a replayed model answers from its recording: caching its responses would only copy it
    cache = None if spec.is_replay else store
    if config.ray_address is None:
        assert model is not None
        pool = pool_size_from_environment(EVAL_POOL_SIZE)
        async with solver_parts(
            model,
            config.limits,
            pool,
            sandbox=config.sandbox,
            sandbox_token=config.sandbox_token,
        ) as (chat_model, interpreter, grader):
            executor = LocalExecutor(
                chat_model,
                interpreter,
                grader,
                config.method,
                store=cache,
                concurrency=config.concurrency,
                cell_slots=_remote_cell_slots(interpreter) if config.sandbox else None,
            )
            yield executor, grader
        return
    from verimath.distributed import ray_executor, ray_runtime

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
            yield ray, grader


def _remote_cell_slots(interpreter: Executor) -> int | None:
    """Cells to keep in flight on a sandbox host: its own slots and queue, not this machine's
    cores (None: not known, two per core of this machine)."""
    from verimath.interpreter import RemoteInterpreter

    return interpreter.cell_slots if isinstance(interpreter, RemoteInterpreter) else None


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


def recording_shortfall(model: ReplayModel, problems: list[Problem], k: int) -> str | None:
    """A warning when the recording holds fewer than ``k`` samples of some problems (replay
    then repeats recorded samples: the k samples are not independent), else None."""
    recorded = {normalize_question(p.question): len(p.samples) for p in model.problems}
    counts = [recorded[normalize_question(p.question)] for p in problems]
    short = [count for count in counts if count < k]
    if not short:
        return None
    return (
        f"-k {k} asks more samples than the recording holds for {len(short)} of "
        f"{len(counts)} problems (as few as {min(short)}): replay repeats recorded samples, "
        f"so those votes are not over {k} different samples; use -k {min(counts)} or less"
    )


def default_run_path(config: RunConfig) -> Path:
    """``runs/<dataset>-<model>-<strategy>-k<k>.sqlite`` (:mod:`verimath.run_names`)."""
    method = config.method
    return RUNS_DIR / default_run_name(
        config.dataset, config.model, method.strategy, method.samples
    )


def export_samples(store: RunStore, destination: Path) -> None:
    """One JSON line per stored sample, with its problem's gold answer."""
    try:
        _write_export(store, destination)
    except OSError as exc:
        raise write_error(
            destination, exc, "the run is saved: rerun with another --export file"
        ) from None


def _write_export(store: RunStore, destination: Path) -> None:
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
