"""What one sample did: its model turns, code cells, answer and verification state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from verimath.models import Message, ToolCall
from verimath.verification import CodeStep, TextStep, Trace, Verification, VerificationState


@dataclass(frozen=True)
class Cell:
    """One code cell the model asked to run."""

    code: str
    output: str
    status: str
    """The interpreter's status (ok, error, timeout, memory, killed) or ``refused`` when a
    code-use rule kept it from running."""
    duration_s: float
    turn: int
    """Index of the model turn that wrote it."""
    cpu_s: float = 0.0
    """CPU time the cell used in the sandbox."""


@dataclass(frozen=True)
class ModelTurn:
    """One model call of a sample."""

    content: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    latency_s: float
    request: Mapping[str, object] | None = field(default=None, repr=False, compare=False)
    response: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    """The server's raw JSON answer (open-ended, as :class:`Completion` has it)."""


STOP_REASONS = (
    "answer",
    "max_code_executions",
    "max_turns",
    "token_budget",
    "length",
    "refused_code",
    "context",
)

CUT_STOP_REASONS = frozenset(
    {"max_code_executions", "max_turns", "token_budget", "length", "refused_code", "context"}
)
"""Stop reasons of a sample cut short (by the token budget, a ``length`` finish, the turn or
code limit, the model's context) rather than ended by the model's final answer: such a sample
is graded on what it has, and counted apart (``is_cut``)."""


def is_cut(stop_reason: str) -> bool:
    """Whether a sample that stopped for ``stop_reason`` was cut short (not a final answer)."""
    return stop_reason in CUT_STOP_REASONS


class SampleSummary(TypedDict):
    """The JSON headline of a sample, as :meth:`Trajectory.summary` gives it."""

    answer: str | None
    answer_method: str
    verification: str
    verification_evidence: list[str]
    code_executions: int
    code_refusals: int
    rule_violations: int
    revisions: int
    stop_reason: str
    turns: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    duration_s: float


@dataclass(frozen=True)
class Trajectory:
    """One sampled solution, start to end."""

    problem: str
    strategy: str
    tool_style: str
    messages: tuple[Message, ...]
    turns: tuple[ModelTurn, ...]
    cells: tuple[Cell, ...]
    steps: tuple[TextStep | CodeStep, ...]
    answer: str | None
    answer_method: str
    verification: Verification
    code_executions: int
    """Code Usage Frequency: cells actually executed."""
    code_refusals: int
    """Cells a code-use rule refused to run."""
    rule_violations: int
    """Executions beyond the strategy's code-use rule, when the rule was measured only."""
    revisions: int
    stop_reason: str
    duration_s: float

    @property
    def state(self) -> VerificationState:
        """The verification state read off the sample."""
        return self.verification.state

    @property
    def prompt_tokens(self) -> int:
        return sum(turn.prompt_tokens for turn in self.turns)

    @property
    def completion_tokens(self) -> int:
        return sum(turn.completion_tokens for turn in self.turns)

    @property
    def cost_usd(self) -> float | None:
        known = [turn.cost_usd for turn in self.turns if turn.cost_usd is not None]
        return sum(known) if len(known) == len(self.turns) else None

    def trace(self) -> Trace:
        return Trace(self.steps, self.answer)

    def summary(self) -> SampleSummary:
        """The JSON-able headline of the sample (no messages)."""
        return {
            "answer": self.answer,
            "answer_method": self.answer_method,
            "verification": str(self.verification.state),
            "verification_evidence": list(self.verification.evidence),
            "code_executions": self.code_executions,
            "code_refusals": self.code_refusals,
            "rule_violations": self.rule_violations,
            "revisions": self.revisions,
            "stop_reason": self.stop_reason,
            "turns": len(self.turns),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "duration_s": round(self.duration_s, 3),
        }
