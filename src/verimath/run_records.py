"""The records of a run as :class:`~verimath.store.RunStore` returns them: frozen and typed.

Only the store knows the run file's tables; every reader (summary, reports, the viewer,
replay, tune-weights, export) gets these records. Grades are :class:`~verimath.grading.Status`
and verification states :class:`~verimath.verification.VerificationState` from the file to
the last reader; both are ``StrEnum``, so they print and serialise as the stored text.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, Union, cast, get_args, get_origin, get_type_hints

from verimath.errors import ConfigError
from verimath.grading import Status
from verimath.models import ToolCall, served_model
from verimath.trajectory import is_cut
from verimath.verification import VerificationState
from verimath.voting import Weights

__all__ = [
    "CellRecord",
    "FailureRecord",
    "ProblemRecord",
    "RecordedConfig",
    "SampleRecord",
    "SampleStats",
    "TurnRecord",
    "Versions",
    "VoteClassRecord",
    "VoteRecord",
    "checked_config",
    "results_config",
]


@dataclass(frozen=True)
class ProblemRecord:
    """One problem of the run."""

    problem_id: str
    position: int
    """Its place in the run's order, as stored (problems are read sorted by it)."""
    question: str
    gold: str
    dataset: str
    subject: str | None
    level: int | None


@dataclass(frozen=True)
class SampleRecord:
    """One finished sample's headline (its conversation is read on its own: ``messages``)."""

    problem_id: str
    sample_index: int
    answer: str | None
    answer_method: str | None
    state: VerificationState
    evidence: tuple[str, ...]
    grade: Status
    code_executions: int
    code_refusals: int
    rule_violations: int
    revisions: int
    stop_reason: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    duration_s: float
    finished_at: float

    @property
    def correct(self) -> bool:
        return self.grade is Status.CORRECT

    @property
    def cut(self) -> bool:
        """Cut short (token budget, ``length``, turn or code limit, context) rather than ended
        by a final answer: graded on what it has, counted apart."""
        return is_cut(self.stop_reason)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, in the column order of the file (grade and state as their text)."""
        return {
            "problem_id": self.problem_id,
            "sample_index": self.sample_index,
            "answer": self.answer,
            "answer_method": self.answer_method,
            "state": str(self.state),
            "evidence": list(self.evidence),
            "grade": str(self.grade),
            "code_executions": self.code_executions,
            "code_refusals": self.code_refusals,
            "rule_violations": self.rule_violations,
            "revisions": self.revisions,
            "stop_reason": self.stop_reason,
            "cut": self.cut,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "duration_s": self.duration_s,
            "finished_at": self.finished_at,
        }


@dataclass(frozen=True)
class SampleStats:
    """Per-sample figures the store adds up from its turns and cells."""

    turns: int = 0
    model_time_s: float = 0.0
    """Sum of the model calls' latencies."""
    code_time_s: float = 0.0
    """Sum of the cells' wall-clock durations."""
    cell_statuses: Mapping[str, int] = field(default_factory=dict)
    """Cells per status (ok, error, timeout, memory, killed, refused)."""


@dataclass(frozen=True)
class TurnRecord:
    """One model call of a sample."""

    problem_id: str
    sample_index: int
    turn_index: int
    content: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    latency_s: float | None


@dataclass(frozen=True)
class CellRecord:
    """One code cell of a sample."""

    problem_id: str
    sample_index: int
    cell_index: int
    turn_index: int
    """The model turn that wrote it."""
    code: str
    output: str
    status: str
    """The interpreter's status (ok, error, timeout, memory, killed) or ``refused``."""
    duration_s: float
    cpu_s: float


@dataclass(frozen=True)
class VoteClassRecord:
    """One answer class of a stored weighted vote, ranked as voted."""

    answer: str | None
    score: float
    true: int
    uncertain: int
    false: int
    samples: tuple[int, ...]
    """Sample indices of its members, in sample order."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "score": self.score,
            "true": self.true,
            "uncertain": self.uncertain,
            "false": self.false,
            "samples": list(self.samples),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VoteClassRecord:
        return cls(
            data["answer"],
            data["score"],
            data["true"],
            data["uncertain"],
            data["false"],
            tuple(data["samples"]),
        )


@dataclass(frozen=True)
class VoteRecord:
    """The voted outcome of one problem: weighted and plain winners with their grades."""

    problem_id: str
    answer: str | None
    grade: Status
    plain_answer: str | None
    plain_grade: Status
    samples_used: int
    classes: tuple[VoteClassRecord, ...]

    @property
    def correct(self) -> bool:
        return self.grade is Status.CORRECT

    @property
    def plain_correct(self) -> bool:
        return self.plain_grade is Status.CORRECT


@dataclass(frozen=True)
class FailureRecord:
    """A sample attempt that failed (any error of one sample), as recorded."""

    problem_id: str
    sample_index: int
    error: str
    failed_at: float
    kind: str | None = None
    """The class of the error (``ModelConnectionError``...); None in runs from before kinds."""

    @property
    def described(self) -> str:
        """``kind: error``, or the error alone in runs from before kinds."""
        return f"{self.kind}: {self.error}" if self.kind else self.error


class RecordedConfig(TypedDict, total=False):
    """What a run file records of its config (``RunConfig.record``): everything that shapes
    the results, as JSON. Not total: a file written by another version may lack keys."""

    dataset: str
    model: str
    strategy: str
    samples: int
    weights: str
    tool_style: str | None
    temperature: float
    top_p: float
    max_tokens: int | None
    seed: int
    max_code: int
    revise: int
    enforce_code_rule: bool
    adaptive: str | None
    wave: int
    threshold: float
    limit: int | None
    subject: list[str]
    level: list[int]
    ids: str | None
    shuffle: bool
    timeout: float
    memory_mb: int
    max_output: int
    problem_count: int


def checked_config(data: object) -> RecordedConfig:
    """``data`` as a RecordedConfig; ValueError naming the first key whose value does not fit
    (unknown keys pass: a newer version may record more)."""
    if not isinstance(data, dict):
        raise ValueError("its recorded config is not a JSON object")
    hints = get_type_hints(RecordedConfig)
    for key, value in data.items():
        if key in hints and not _fits(value, hints[key]):
            expected = str(hints[key]) if get_origin(hints[key]) else hints[key].__name__
            raise ValueError(f"its recorded config has {key} = {value!r}, not a {expected}")
    if "weights" in data:
        try:
            Weights.parse(data["weights"])
        except ConfigError as exc:
            raise ValueError(f"its recorded config has unusable weights: {exc}") from None
    return cast(RecordedConfig, data)


def _fits(value: object, hint: Any) -> bool:
    if get_origin(hint) in (Union, types.UnionType):
        return any(_fits(value, option) for option in get_args(hint))
    if get_origin(hint) is list:
        return isinstance(value, list) and all(_fits(v, get_args(hint)[0]) for v in value)
    if hint is type(None):
        return value is None
    if isinstance(value, bool):
        return hint is bool
    if hint is float:
        return isinstance(value, int | float)
    return isinstance(value, hint)


Versions = dict[str, str | None]
"""Package name (and ``python``, ``git_revision``) -> version, None where not installed."""

ADAPTIVE_ONLY_KEYS = ("wave", "threshold")
"""Config keys that shape the results of an adaptive run only."""


def results_config(config: Mapping[str, object]) -> dict[str, object]:
    """The part of a run's recorded config that shapes its results, as compared on resume.

    The model is compared without its base URLs (where it is served). ``wave`` and
    ``threshold`` count only when ``adaptive`` is set: every run records them, with
    the defaults of the version that started it, and a plain run must resume under a version
    whose defaults moved.
    """
    shaping = dict(config)
    if isinstance(model := shaping.get("model"), str):  # earlier runs recorded base URLs in it
        shaping["model"] = served_model(model)[0]
    if config.get("adaptive") is not None:
        return shaping
    return {k: v for k, v in shaping.items() if k not in ADAPTIVE_ONLY_KEYS}
