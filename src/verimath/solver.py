"""Solve one problem: k samples in parallel, each in its own session, then a weighted vote.

    solution = verimath.solve("What is 2^10 - 1?", model="openai:gpt-4o", samples=4)
    solution.answer, solution.vote.classes[0].counts

The answers are grouped by mathematical equivalence (the grader), not by string.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from verimath.adaptive import AdaptivePolicy, should_stop
from verimath.agent import AgentConfig, run_sample
from verimath.errors import ConfigError
from verimath.grading import Grader
from verimath.interpreter import Interpreter, Limits
from verimath.models import FENCED, FUNCTION, ChatModel, GenerateConfig, resolve_model
from verimath.prompts import get_strategy
from verimath.trajectory import Trajectory
from verimath.voting import DEFAULT_WEIGHTS, Candidate, VoteResult, Weights, vote

DEFAULT_SAMPLES = 4


@dataclass(frozen=True)
class SolveOptions:
    """Everything ``solve`` can be told, with the defaults of the command line."""

    strategy: str = "csv"
    samples: int = DEFAULT_SAMPLES
    weights: Weights = DEFAULT_WEIGHTS
    tool_style: str | None = None
    """None: the model's native style if it has only one, else fenced text."""
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    seed: int = 0
    """Sample i is drawn with seed + i (reproducible runs on servers that honour seeds; the
    replay backend picks recorded sample i the same way)."""
    max_code_executions: int = 10
    revise: int = 0
    enforce_code_rule: bool = False
    dataset: str | None = None
    adaptive: AdaptivePolicy | None = None
    """Draw samples in waves and stop once the rest cannot (or very probably will not) change
    the weighted winner (see ``verimath.adaptive``); None draws all k."""

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ConfigError(f"samples must be at least 1, got {self.samples}")
        get_strategy(self.strategy)


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
            "votes": [
                {
                    "answer": c.answer,
                    "score": c.score,
                    "true": c.counts.true,
                    "uncertain": c.counts.uncertain,
                    "false": c.counts.false,
                    "samples": list(c.members),
                }
                for c in self.vote.classes
            ],
            "samples": [t.summary() for t in self.samples],
        }


def choose_tool_style(model: ChatModel, requested: str | None) -> str:
    """The tool style to use with ``model``; ConfigError if it cannot do the one requested."""
    if requested is not None:
        if requested not in model.tool_styles:
            raise ConfigError(
                f"model {model.name!r} does not support the {requested!r} tool "
                f"style; it supports: {', '.join(sorted(model.tool_styles))}"
            )
        return requested
    return FENCED if FENCED in model.tool_styles else FUNCTION


def agent_config(model: ChatModel, options: SolveOptions) -> AgentConfig:
    return AgentConfig(
        strategy=get_strategy(options.strategy),
        tool_style=choose_tool_style(model, options.tool_style),
        generate=options.generate,
        max_code_executions=options.max_code_executions,
        enforce_code_rule=options.enforce_code_rule,
        revise=options.revise,
        dataset=options.dataset,
    )


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
    for wave in sample_waves(options):
        samples += await asyncio.gather(*(one(i) for i in wave))
        if options.adaptive is not None and await _settled(samples, options, same):
            break
    candidates = candidates_of(samples)
    result = await asyncio.to_thread(vote, candidates, options.weights, same)
    return Solution(problem, result.winner, result, tuple(samples))


def sample_waves(options: SolveOptions) -> list[range]:
    """Sample indices in the waves they are drawn: all at once, or adaptive-sized waves."""
    size = options.adaptive.wave if options.adaptive is not None else options.samples
    return [
        range(start, min(start + size, options.samples))
        for start in range(0, options.samples, size)
    ]


def candidates_of(samples: Sequence[Trajectory]) -> list[Candidate]:
    return [Candidate(t.answer, t.verification.state) for t in samples]


async def _settled(
    samples: Sequence[Trajectory], options: SolveOptions, same: Callable[[str, str], bool]
) -> bool:
    """Whether the adaptive rule stops sampling after this prefix of samples."""
    assert options.adaptive is not None
    decision = await asyncio.to_thread(
        should_stop,
        candidates_of(samples),
        options.samples,
        options.weights,
        same,
        options.adaptive,
    )
    return decision.stop


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
