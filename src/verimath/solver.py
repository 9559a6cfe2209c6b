"""Solve one problem: k samples in parallel, each in its own session, then a weighted vote.

    solution = verimath.solve("What is 2^10 - 1?", model="openai:gpt-4o", samples=4)
    solution.answer, solution.vote.classes[0].counts

The answers are grouped by mathematical equivalence (the grader), not by string.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from verimath.agent import run_sample
from verimath.config import DEFAULT_SAMPLES, SolveOptions, agent_config, choose_tool_style
from verimath.errors import (
    ModelAuthError,
    ModelNotFoundError,
    SamplesFailedError,
    VerimathError,
    failure_message,
)
from verimath.grading import Grader
from verimath.interpreter import Executor, Limits
from verimath.interpreter.executor import executor_for
from verimath.models import ChatModel, resolve_model
from verimath.tally import adaptive_stop, candidates_of, vote_classes
from verimath.trajectory import Trajectory
from verimath.voting import VoteResult, vote

_T = TypeVar("_T")

__all__ = [
    "DEFAULT_SAMPLES",
    "SampleFailure",
    "Solution",
    "SolveOptions",
    "agent_config",
    "asolve",
    "choose_tool_style",
    "solve",
    "solve_with",
    "solver_parts",
]


@dataclass(frozen=True)
class SampleFailure:
    """A sample that raised instead of finishing: the others still vote."""

    index: int
    kind: str
    """The class of the error (``ModelConnectionError``...)."""
    message: str
    error: BaseException = field(compare=False, repr=False)

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "kind": self.kind, "error": self.message}


@dataclass(frozen=True)
class Solution:
    """The voted answer of a problem and the samples behind it (failed samples apart)."""

    problem: str
    answer: str | None
    vote: VoteResult
    samples: tuple[Trajectory, ...]
    failures: tuple[SampleFailure, ...] = ()
    indices: tuple[int, ...] = ()
    """The sample index of each of ``samples`` (they skip failed ones); empty: 0, 1, ..."""

    def sample_index(self, position: int) -> int:
        """The sample index of ``samples[position]`` (a vote class's member)."""
        return self.indices[position] if self.indices else position

    def to_dict(self) -> dict[str, object]:
        indices = [self.sample_index(i) for i in range(len(self.samples))]
        return {
            "problem": self.problem,
            "answer": self.answer,
            "weights": self.vote.weights.spec(),
            "samples_used": len(self.samples),
            "votes": [c.to_dict() for c in vote_classes(self.vote, indices)],
            "samples": [
                {"index": i, **t.summary()} for i, t in zip(indices, self.samples, strict=True)
            ],
            "failures": [f.to_dict() for f in self.failures],
        }


UNUSABLE_MODEL = (ModelAuthError, ModelNotFoundError)
"""Errors every other sample would meet too: they end a solve at once."""


async def solve_with(
    model: ChatModel,
    interpreter: Executor,
    grader: Grader,
    problem: str,
    options: SolveOptions,
    on_sample: Callable[[int, Trajectory], None] | None = None,
    on_failure: Callable[[SampleFailure], None] | None = None,
) -> Solution:
    """Draw ``options.samples`` samples concurrently and vote; the parts are the caller's.

    A sample that raises is kept apart as a :class:`SampleFailure` and the others vote; only
    an unusable model (key refused, no such model) or every sample failing ends the solve
    with an error (the first sample's, or :class:`SamplesFailedError` around it).
    """
    config = agent_config(model, options)

    async def one(index: int) -> Trajectory | SampleFailure:
        try:
            with interpreter.session(seed=options.sandbox_seed(problem, index)) as session:
                trajectory = await run_sample(
                    model, session, problem, config, seed=options.seed + index
                )
        except UNUSABLE_MODEL:
            raise
        except Exception as exc:  # one sample's failure must not end the solve
            failure = SampleFailure(index, type(exc).__name__, failure_message(exc), exc)
            if on_failure is not None:
                on_failure(failure)
            return failure
        if on_sample is not None:
            on_sample(index, trajectory)
        return trajectory

    same = functools.partial(grader.equivalent, dataset=options.dataset)
    samples: list[Trajectory] = []
    indices: list[int] = []
    failures: list[SampleFailure] = []
    policy = options.adaptive
    for wave in sample_waves(options):
        for index, outcome in zip(wave, await _all_or_none(one(i) for i in wave), strict=True):
            if isinstance(outcome, SampleFailure):
                failures.append(outcome)
            else:
                samples.append(outcome)
                indices.append(index)
        if policy is not None and await adaptive_stop(
            samples, options.samples, options.weights, same, policy
        ):
            break
    if not samples:
        first = failures[0]
        if isinstance(first.error, VerimathError):
            raise first.error
        raise SamplesFailedError(
            f"all {len(failures)} samples failed; the first with {first.kind}: {first.message}"
        ) from first.error
    result = await asyncio.to_thread(vote, candidates_of(samples), options.weights, same)
    return Solution(problem, result.winner, result, tuple(samples), tuple(failures), tuple(indices))


async def _all_or_none(jobs: Iterable[Awaitable[_T]]) -> list[_T]:
    """The results of ``jobs`` run concurrently; if one raises, the others are cancelled
    (and waited for) before the error goes on."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def sample_waves(options: SolveOptions) -> list[range]:
    """Sample indices in the waves they are drawn: all at once, or adaptive-sized waves."""
    size = options.adaptive.wave if options.adaptive is not None else options.samples
    return [
        range(start, min(start + size, options.samples))
        for start in range(0, options.samples, size)
    ]


@contextlib.asynccontextmanager
async def solver_parts(
    model: str | ChatModel | None,
    limits: Limits | None = None,
    pool_size: int = 0,
    *,
    sandbox: str | None = None,
    sandbox_token: str | None = None,
    **model_options: object,
) -> AsyncIterator[tuple[ChatModel, Executor, Grader]]:
    """A model, an interpreter and a grader, closed on exit (a given ChatModel is not).

    The interpreter is local (keeping ``pool_size`` sessions started ahead), or the
    ``verimath serve`` host at ``sandbox``."""
    owned = not isinstance(model, ChatModel)
    chat_model = model if isinstance(model, ChatModel) else resolve_model(model, **model_options)
    try:
        if owned:  # an unreachable server is one line before any sample, as in ``eval``
            await asyncio.to_thread(chat_model.check_reachable)
        with Grader() as grader:
            async with executor_for(limits, sandbox, sandbox_token, pool_size) as interpreter:
                yield chat_model, interpreter, grader
    finally:
        if owned:
            await chat_model.aclose()


async def asolve(problem: str, model: str | ChatModel | None = None, **options: Any) -> Solution:
    """Solve ``problem`` (async). Options are the fields of ``SolveOptions``."""
    solve_options = replace(SolveOptions(), **options)
    async with solver_parts(model) as (chat_model, interpreter, grader):
        return await solve_with(chat_model, interpreter, grader, problem, solve_options)


def solve(problem: str, model: str | ChatModel | None = None, **options: Any) -> Solution:
    """Solve ``problem``: k sampled solutions with code, verified and voted."""
    return asyncio.run(asolve(problem, model, **options))
