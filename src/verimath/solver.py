"""Solve one problem: k samples in parallel, each in its own session, then a weighted vote.

    solution = verimath.solve("What is 2^10 - 1?", model="openai:gpt-4o", samples=4)
    solution.answer, solution.vote.classes[0].counts

The answers are grouped by mathematical equivalence (the grader), not by string.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

from verimath.agent import run_sample
from verimath.config import DEFAULT_SAMPLES, SolveOptions, agent_config, choose_tool_style
from verimath.grading import Grader
from verimath.interpreter import Interpreter, Limits
from verimath.models import ChatModel, resolve_model
from verimath.tally import adaptive_stop, candidates_of, vote_classes
from verimath.trajectory import Trajectory
from verimath.voting import VoteResult, vote

__all__ = [
    "DEFAULT_SAMPLES",
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
class Solution:
    """The voted answer of a problem and the samples behind it."""

    problem: str
    answer: str | None
    vote: VoteResult
    samples: tuple[Trajectory, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "problem": self.problem,
            "answer": self.answer,
            "weights": self.vote.weights.spec(),
            "samples_used": len(self.samples),
            "votes": [c.to_dict() for c in vote_classes(self.vote, range(len(self.samples)))],
            "samples": [t.summary() for t in self.samples],
        }


async def solve_with(
    model: ChatModel,
    interpreter: Interpreter,
    grader: Grader,
    problem: str,
    options: SolveOptions,
    on_sample: Callable[[int, Trajectory], None] | None = None,
) -> Solution:
    """Draw ``options.samples`` samples concurrently and vote; the parts are the caller's."""
    config = agent_config(model, options)

    async def one(index: int) -> Trajectory:
        with interpreter.session() as session:
            trajectory = await run_sample(
                model, session, problem, config, seed=options.seed + index
            )
        if on_sample is not None:
            on_sample(index, trajectory)
        return trajectory

    same = functools.partial(grader.equivalent, dataset=options.dataset)
    samples: list[Trajectory] = []
    policy = options.adaptive
    for wave in sample_waves(options):
        samples += await asyncio.gather(*(one(i) for i in wave))
        if policy is not None and await adaptive_stop(
            samples, options.samples, options.weights, same, policy
        ):
            break
    result = await asyncio.to_thread(vote, candidates_of(samples), options.weights, same)
    return Solution(problem, result.winner, result, tuple(samples))


def sample_waves(options: SolveOptions) -> list[range]:
    """Sample indices in the waves they are drawn: all at once, or adaptive-sized waves."""
    size = options.adaptive.wave if options.adaptive is not None else options.samples
    return [
        range(start, min(start + size, options.samples))
        for start in range(0, options.samples, size)
    ]


@contextlib.asynccontextmanager
async def solver_parts(
    model: str | ChatModel | None, limits: Limits | None = None, **model_options: object
) -> AsyncIterator[tuple[ChatModel, Interpreter, Grader]]:
    """A model, an interpreter and a grader, closed on exit (a given ChatModel is not)."""
    owned = not isinstance(model, ChatModel)
    chat_model = model if isinstance(model, ChatModel) else resolve_model(model, **model_options)
    try:
        with Interpreter(limits) as interpreter, Grader() as grader:
            await asyncio.to_thread(interpreter.start)
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
