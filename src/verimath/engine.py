"""The evaluation engine: problems x samples on asyncio, streamed into the run store.

Every sample advances on its own: there are no lockstep rounds, a slow sample never holds up
the others. Model calls are bounded by ``concurrency``; code cells by ``cell_slots`` (the
interpreter's share of the machine). Each finished sample is graded and committed at once;
when a problem's last sample lands, its vote is computed from the store and committed too.
Nothing is kept in memory per sample, so memory stays flat however long the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from verimath.agent import run_sample
from verimath.caching import StoreCachedModel
from verimath.config import DEFAULT_CONCURRENCY, SolveOptions, agent_config
from verimath.datasets import Problem
from verimath.errors import (
    ModelAuthError,
    ModelConnectionError,
    ModelNotFoundError,
    RunStoppedError,
    StoreError,
    WorkerLostError,
    failure_message,
)
from verimath.grading import Grader, Status, known_rules
from verimath.interpreter import CellResult, Executor, NotebookSession
from verimath.models import ChatModel
from verimath.store import RunStore
from verimath.tally import adaptive_stop, vote_record
from verimath.trajectory import Trajectory

if TYPE_CHECKING:  # the endpoint pool module loads the OpenAI SDK: only when one is used
    from verimath.models.endpoints import EndpointStats

MAX_CONSECUTIVE_FAILURES = 20


def answer_rules(problem: Problem) -> str | None:
    """The grading rules for a problem: its dataset's where verimath knows them, else generic."""
    return known_rules(problem.dataset)


def default_cell_slots() -> int:
    """Cells run at once: two per core, so a long cell does not hold up the short ones."""
    return 2 * (os.cpu_count() or 1)


@dataclass
class Progress:
    """Running totals, updated as samples and problems finish (read by progress displays)."""

    samples_total: int = 0
    samples_done: int = 0
    problems_total: int = 0
    problems_done: int = 0
    voted_correct: int = 0
    sample_correct: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    failures: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def voted_accuracy(self) -> float | None:
        return self.voted_correct / self.problems_done if self.problems_done else None


ProgressCallback = Callable[[Progress], None]


class _ThrottledSession:
    """A session whose cells wait for one of the interpreter's slots."""

    def __init__(self, session: NotebookSession, slots: asyncio.Semaphore) -> None:
        self._session = session
        self._slots = slots

    async def arun(self, code: str, timeout: float | None = None) -> CellResult:
        async with self._slots:
            return await self._session.arun(code, timeout)


class SampleExecutor(Protocol):
    """Runs one sample to its end and grades it: in this process (:class:`LocalExecutor`),
    or elsewhere (``verimath.distributed.RayExecutor``)."""

    parallelism: int
    """How many samples the engine should keep in flight for this executor."""

    @property
    def model_name(self) -> str:
        """The name of the model the samples are drawn from."""
        ...

    @property
    def cache_hits(self) -> int:
        """Model calls answered from the run's response cache so far."""
        ...

    async def execute(self, problem: Problem, index: int) -> tuple[Trajectory, Status]:
        """The sample's trajectory and its grade; any exception fails this sample only
        (StoreError and WorkerLostError end the run)."""
        ...

    async def endpoint_stats(self) -> list[EndpointStats]:
        """Per-endpoint counters of a model served by several endpoints (else empty)."""
        ...

    def describe(self) -> str | None:
        """A line about where the samples ran, for the end of a run (None: nothing to say)."""
        ...


class LocalExecutor:
    """Samples run here: the agent loop on this event loop, cells in the local interpreter."""

    def __init__(
        self,
        model: ChatModel,
        interpreter: Executor,
        grader: Grader,
        options: SolveOptions,
        *,
        store: RunStore | None,
        concurrency: int,
        cell_slots: int | None = None,
    ) -> None:
        slots = cell_slots or default_cell_slots()
        self.model_name = model.name
        self.model = StoreCachedModel(model, store, concurrency)
        self.interpreter = interpreter
        self.grader = grader
        self.options = options
        self.config = agent_config(model, options)
        self.cell_slots = asyncio.Semaphore(slots)
        self.parallelism = concurrency + slots

    async def execute(self, problem: Problem, index: int) -> tuple[Trajectory, Status]:
        rules = answer_rules(problem)
        config = dataclasses.replace(self.config, dataset=rules)
        seed = self.options.sandbox_seed(problem.id, index)
        with self.interpreter.session(seed=seed) as session:
            trajectory = await run_sample(
                self.model,
                _ThrottledSession(session, self.cell_slots),
                problem.question,
                config,
                seed=self.options.seed + index,
            )
        grade = await self.grader.agrade(problem.answer, trajectory.answer, rules)
        return trajectory, grade.status

    @property
    def cache_hits(self) -> int:
        return self.model.hits

    async def endpoint_stats(self) -> list[EndpointStats]:
        from verimath.models.endpoints import endpoint_stats

        return endpoint_stats(self.model)

    def describe(self) -> str | None:
        return None


class Engine:
    """Runs the samples of a list of problems into a run store, through an executor."""

    def __init__(
        self,
        executor: SampleExecutor,
        grader: Grader,
        store: RunStore,
        options: SolveOptions,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.executor = executor
        self.grader = grader
        self.store = store
        self.options = options
        self.on_progress = on_progress or (lambda progress: None)
        self.progress = Progress()
        self._consecutive_failures = 0
        self._succeeded = 0
        """Samples finished by this engine (not those found in the store)."""
        self._stopped: RunStoppedError | None = None

    @classmethod
    def local(
        cls,
        model: ChatModel,
        interpreter: Executor,
        grader: Grader,
        store: RunStore,
        options: SolveOptions,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        cell_slots: int | None = None,
        cache: bool = True,
        on_progress: ProgressCallback | None = None,
    ) -> Engine:
        """An engine running every sample in this process."""
        executor = LocalExecutor(
            model,
            interpreter,
            grader,
            options,
            store=store if cache else None,
            concurrency=concurrency,
            cell_slots=cell_slots,
        )
        return cls(executor, grader, store, options, on_progress=on_progress)

    async def run(self, problems: Sequence[Problem]) -> Progress:
        """Run every sample not yet in the store; vote every problem whose samples are all in.

        With ``options.adaptive``, a problem's samples are drawn in waves and the next wave is
        scheduled only if the stop rule says the samples so far do not settle the vote.
        """
        k = self.options.samples
        stored = self.store.finished_samples()
        self.progress.samples_total = len(problems) * k
        self.progress.problems_total = len(problems)
        self._count_finished(problems)
        self._queue: asyncio.Queue[tuple[Problem, int] | None] = asyncio.Queue()
        self._done = {p.id: {i for i in stored.get(p.id, set()) if i < k} for p in problems}
        self._in_flight = dict.fromkeys(self._done, 0)
        self._failed_problems: set[str] = set()
        self._open = len(problems)
        if not problems:
            return self.progress
        # never more workers than samples that may run: --concurrency is a bound, not a count
        self._workers = max(1, min(self.executor.parallelism, self._to_run(problems)))
        for problem in problems:
            await self._advance(problem)
        self.on_progress(self.progress)
        workers = [asyncio.create_task(self._worker()) for _ in range(self._workers)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        return self.progress

    def _to_run(self, problems: Sequence[Problem]) -> int:
        """Samples not yet stored: the most that can ever be in flight in this run."""
        k = self.options.samples
        return sum(k - len(self._done[p.id]) for p in problems)

    def _count_finished(self, problems: Sequence[Problem]) -> None:
        wanted = {p.id for p in problems}
        for sample in self.store.samples(below=self.options.samples):
            if sample.problem_id in wanted:
                self._add_sample_totals(
                    sample.grade, sample.prompt_tokens, sample.completion_tokens, sample.cost_usd
                )

    async def _worker(self) -> None:
        while (item := await self._queue.get()) is not None:
            if self._stopped is not None:  # another worker stopped the run: start nothing
                raise self._stopped
            problem, index = item
            if await self._sample(problem, index):
                self._done[problem.id].add(index)
            else:
                self._failed_problems.add(problem.id)
            self._in_flight[problem.id] -= 1
            if self._in_flight[problem.id] == 0:
                await self._advance(problem)
            self.on_progress(self.progress)

    async def _advance(self, problem: Problem) -> None:
        """Schedule the problem's next wave, or vote it (or leave it, after a failure)."""
        wave = [] if problem.id in self._failed_problems else await self._next_wave(problem)
        if wave:
            self._in_flight[problem.id] = len(wave)
            for index in wave:
                self._queue.put_nowait((problem, index))
            return
        if problem.id not in self._failed_problems:
            skipped = self.options.samples - len(self._done[problem.id])
            self.progress.samples_total -= skipped
            await self._vote(problem)
        self._open -= 1
        if self._open == 0:
            for _ in range(self._workers):
                self._queue.put_nowait(None)

    async def _next_wave(self, problem: Problem) -> list[int]:
        k, done = self.options.samples, self._done[problem.id]
        missing = [i for i in range(k) if i not in done]
        policy = self.options.adaptive
        if not missing or policy is None:
            return missing
        holes = [i for i in missing if i < max(done, default=-1)]
        if holes:  # after a crash: complete the prefix before judging it
            return holes
        if done and await self._settled(problem):
            return []
        return missing[: policy.wave]

    async def _settled(self, problem: Problem) -> bool:
        policy = self.options.adaptive
        assert policy is not None
        samples = self.store.samples(problem.id)  # in sample order
        options, same = self.options, self._same(problem)
        return await adaptive_stop(samples, options.samples, options.weights, same, policy)

    def _same(self, problem: Problem) -> Callable[[str, str], bool]:
        return functools.partial(self.grader.equivalent, dataset=answer_rules(problem))

    async def _sample(self, problem: Problem, index: int) -> bool:
        """Run, grade and store one sample; False when it failed (recorded, kept for a rerun).

        Any exception of one sample is recorded and the run goes on, unless the run cannot
        go on (:meth:`_stop_reason`); errors of the run file and of the Ray cluster end the
        run as they are.
        """
        try:
            trajectory, grade = await self.executor.execute(problem, index)
        except (StoreError, WorkerLostError):
            raise
        except Exception as exc:  # one sample's failure must not end the run
            self._record_failure(problem, index, exc)
            return False
        self._consecutive_failures = 0
        self._succeeded += 1
        seed = self.options.sandbox_seed(problem.id, index)
        self.store.check_in_place()
        self.store.add_sample(problem.id, index, trajectory, grade, sandbox_seed=seed)
        self._add_sample_totals(
            grade, trajectory.prompt_tokens, trajectory.completion_tokens, trajectory.cost_usd
        )
        return True

    def _record_failure(self, problem: Problem, index: int, exc: Exception) -> None:
        kind, message = type(exc).__name__, failure_message(exc)
        self.store.add_failure(problem.id, index, kind, message)
        self.progress.failures += 1
        self._consecutive_failures += 1
        reason = self._stop_reason(exc)
        if reason is not None and self._stopped is None:
            self._stopped = RunStoppedError(
                f"{reason}: {kind}: {message} -- {self.progress.samples_done} finished samples "
                f"are saved in {self.store.path}; fix the cause and rerun the same command to "
                "resume"
            )
            raise self._stopped from exc

    def _stop_reason(self, exc: Exception) -> str | None:
        """Why the run cannot go on after ``exc``, or None when the next sample may work."""
        if isinstance(exc, ModelAuthError | ModelNotFoundError):
            return "the model cannot be used"
        if isinstance(exc, ModelConnectionError) and not self._succeeded:
            return "the model server is unreachable"
        if self._consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            return f"{MAX_CONSECUTIVE_FAILURES} samples in a row failed; the last"
        return None

    def _add_sample_totals(
        self, grade: Status, prompt_tokens: int, completion_tokens: int, cost_usd: float | None
    ) -> None:
        progress = self.progress
        progress.samples_done += 1
        progress.sample_correct += grade is Status.CORRECT
        progress.prompt_tokens += int(prompt_tokens or 0)
        progress.completion_tokens += int(completion_tokens or 0)
        progress.cost_usd += float(cost_usd or 0.0)

    async def _vote(self, problem: Problem) -> None:
        samples = self.store.samples(problem.id, below=self.options.samples)
        # equivalence checks may wait on grader workers: keep them off the event loop
        record = await asyncio.to_thread(
            vote_record, problem.id, samples, self.options, self._same(problem)
        )
        self.store.set_vote(record)
        self.progress.problems_done += 1
        self.progress.voted_correct += record.correct
