"""The unit every benchmark is loaded into: one :class:`Problem` with its gold answer."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

__all__ = ["FrozenMapping", "Problem", "ProblemDict"]


class FrozenMapping(Mapping[str, Any]):
    """A read-only mapping that, unlike ``types.MappingProxyType``, can be pickled.

    It holds a problem's extra source fields, whatever JSON the source has: open-ended.

    Problems travel to worker processes, so their ``meta`` must survive ``pickle``.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = {key: _freeze(value) for key, value in (data or {}).items()}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"

    def __getstate__(self) -> dict[str, Any]:
        return self._data

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._data = state


def _freeze(value: Any) -> Any:
    """JSON-like values made immutable: lists become tuples, dicts FrozenMappings."""
    if isinstance(value, Mapping):
        return FrozenMapping(value)
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    return value


def _thaw(value: Any) -> Any:
    """The inverse of :func:`_freeze`, giving plain JSON-serialisable values."""
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


class ProblemDict(TypedDict):
    """A :class:`Problem` as plain JSON-serialisable values."""

    id: str
    question: str
    answer: str
    dataset: str
    subject: str | None
    level: int | None
    solution: str | None
    choices: list[str] | None
    meta: dict[str, Any]
    """The source's other fields, as they are."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One benchmark problem with its gold final answer.

    ``answer`` is the reference answer as a string, exactly as the source gives it apart from
    the documented per-dataset extraction (GSM8K: the text after ``####``; MMLU-STEM: the
    letter of the correct choice; numbers stored as JSON numbers: the shortest decimal that
    reads back as the same value, without a trailing ``.0``). Equivalence of formats
    (``1,000`` vs ``1000``) is the grader's job, not the loader's.

    ``id`` is unique within its dataset and stable across releases of verimath.
    """

    id: str
    """Stable identifier, e.g. ``test/algebra/1.json`` (MATH) or ``gsm8k/test/0``."""
    question: str
    """The text given to the model (for multiple choice: with the choices appended)."""
    answer: str
    """The gold final answer."""
    dataset: str
    """Name of the dataset the problem came from, e.g. ``math`` or ``svamp``."""
    subject: str | None = None
    """Subject or problem type, when the dataset has one (MATH: ``Number Theory``)."""
    level: int | None = None
    """Difficulty level, when the dataset has one (MATH: 1-5)."""
    solution: str | None = None
    """The reference solution (text, equation or code), when the dataset has one."""
    choices: tuple[str, ...] | None = None
    """The options of a multiple-choice problem, in order A, B, C, ..."""
    meta: Mapping[str, Any] = field(default_factory=FrozenMapping, hash=False)
    """Every source field not mapped above, read-only."""

    def __post_init__(self) -> None:
        if not isinstance(self.meta, FrozenMapping):
            object.__setattr__(self, "meta", FrozenMapping(self.meta))
        if self.choices is not None and not isinstance(self.choices, tuple):
            object.__setattr__(self, "choices", tuple(self.choices))

    def to_dict(self) -> ProblemDict:
        """The problem as plain JSON-serialisable values (``meta`` as a dict)."""
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "dataset": self.dataset,
            "subject": self.subject,
            "level": self.level,
            "solution": self.solution,
            "choices": list(self.choices) if self.choices is not None else None,
            "meta": _thaw(self.meta),
        }
