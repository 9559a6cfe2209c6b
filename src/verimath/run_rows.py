"""Rows of a run file decoded into its typed records, every value checked on the way.

A run file is a database anyone can edit: a column may hold text where a number belongs, a
state this version does not know, JSON that is not JSON or not the shape verimath wrote. Each
accessor of :class:`StoredRow` checks one value and raises a one-line StoreError naming the
file, the table, the row (by its key) and the column; JSON goes through
:func:`verimath.bounded.loads_json` and compressed blobs through :func:`verimath.bounded.inflate`
(at most :data:`MAX_BLOB_BYTES`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from verimath.bounded import BoundsExceeded, inflate, loads_json
from verimath.errors import StoreError, VerimathError
from verimath.grading import Status
from verimath.models import Message, ToolCall
from verimath.run_records import (
    CellRecord,
    FailureRecord,
    ProblemRecord,
    SampleRecord,
    TurnRecord,
    VoteClassRecord,
    VoteRecord,
)
from verimath.verification import VerificationState

__all__ = [
    "CHANGED_OUTSIDE",
    "MAX_BLOB_BYTES",
    "StoredRow",
    "cell_record",
    "failure_record",
    "message_list",
    "problem_record",
    "sample_record",
    "turn_record",
    "vote_record",
]

MAX_BLOB_BYTES = 32 << 20
"""Most a compressed blob of a run file (a cached model response) may inflate to: 32 MiB."""
CHANGED_OUTSIDE = "the file was changed by something other than verimath. Start a new run (--new)."
KEY_COLUMNS = (
    "key", "request_key", "problem_id", "sample_index", "turn_index", "cell_index", "failed_at",
)  # fmt: skip
"""Columns that name a row, where a row has them."""
_Enum = TypeVar("_Enum", bound=StrEnum)
_T = TypeVar("_T")


@dataclass(frozen=True)
class StoredRow:
    """One row of a run file's table, with accessors that check each value's type."""

    path: Path
    table: str
    values: Mapping[str, Any]

    @classmethod
    def of(
        cls, path: Path, table: str, columns: tuple[str, ...], row: tuple[Any, ...]
    ) -> StoredRow:
        return cls(path, table, dict(zip(columns, row, strict=True)))

    def error(self, column: str, problem: str) -> StoreError:
        """The one line saying which value of this row does not fit, and why."""
        key = ", ".join(
            f"{name} {self.values[name]!r}" for name in KEY_COLUMNS if name in self.values
        )
        row = f"row ({key})" if key else "a row"
        return StoreError(
            f"{self.path}: table {self.table}, {row}, column {column}: {problem}; "
            + CHANGED_OUTSIDE
        )

    def _value(self, column: str) -> Any:
        if column not in self.values:
            raise self.error(column, "missing")
        return self.values[column]

    def text(self, column: str) -> str:
        value = self._value(column)
        if not isinstance(value, str):
            raise self.error(column, f"{_shown(value)} is not text")
        return value

    def optional_text(self, column: str) -> str | None:
        return None if self._value(column) is None else self.text(column)

    def integer(self, column: str) -> int:
        value = self._value(column)
        if not isinstance(value, int):
            raise self.error(column, f"{_shown(value)} is not an integer")
        return value

    def optional_integer(self, column: str) -> int | None:
        return None if self._value(column) is None else self.integer(column)

    def number(self, column: str) -> float:
        value = self._value(column)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(column, f"{_shown(value)} is not a finite number")
        return float(value)

    def optional_number(self, column: str) -> float | None:
        return None if self._value(column) is None else self.number(column)

    def choice(self, column: str, kind: type[_Enum]) -> _Enum:
        value = self.text(column)
        try:
            return kind(value)
        except ValueError:
            known = ", ".join(str(member) for member in kind)
            raise self.error(column, f"{value!r} is not one of {known}") from None

    def json(self, column: str) -> object:
        """The column's JSON text, decoded within the bounds of :mod:`verimath.bounded`."""
        return self.decoded(column, self.text(column))

    def packed(self, column: str) -> object:
        """The column's zlib-compressed JSON, inflated to at most :data:`MAX_BLOB_BYTES`."""
        blob = self._value(column)
        if not isinstance(blob, bytes):
            raise self.error(column, f"{_shown(blob)} is not a compressed blob")
        try:
            data = inflate(blob, limit=MAX_BLOB_BYTES)
        except BoundsExceeded as exc:
            raise self.error(column, str(exc)) from None
        return self.decoded(column, data)

    def decoded(self, column: str, data: str | bytes) -> object:
        try:
            return loads_json(data)
        except BoundsExceeded as exc:
            raise self.error(column, str(exc)) from None
        except json.JSONDecodeError as exc:
            raise self.error(column, f"not JSON ({exc.msg})") from None

    def shaped(self, column: str, value: object, build: Callable[[Any], _T]) -> _T:
        """``build(value)``; a value of the wrong shape is an error naming this column."""
        try:
            return build(value)
        except (KeyError, TypeError, ValueError, AttributeError, VerimathError) as exc:
            raise self.error(column, f"not what verimath writes ({_reason(exc)})") from None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]!r}"
    return " ".join(str(exc).split())[:120] or type(exc).__name__


def problem_record(row: StoredRow) -> ProblemRecord:
    return ProblemRecord(
        row.text("problem_id"),
        row.integer("position"),
        row.text("question"),
        row.text("gold"),
        row.text("dataset"),
        row.optional_text("subject"),
        row.optional_integer("level"),
    )


def sample_record(row: StoredRow) -> SampleRecord:
    evidence = row.json("evidence") if row.values.get("evidence") is not None else []
    return SampleRecord(
        row.text("problem_id"),
        row.integer("sample_index"),
        row.optional_text("answer"),
        row.optional_text("answer_method"),
        row.choice("state", VerificationState),
        row.shaped("evidence", evidence, _strings),
        row.choice("grade", Status),
        row.integer("code_executions"),
        row.integer("code_refusals"),
        row.integer("rule_violations"),
        row.integer("revisions"),
        row.text("stop_reason"),
        row.integer("prompt_tokens"),
        row.integer("completion_tokens"),
        row.optional_number("cost_usd"),
        row.number("duration_s"),
        row.number("finished_at"),
    )


def vote_record(row: StoredRow) -> VoteRecord:
    return VoteRecord(
        row.text("problem_id"),
        row.optional_text("answer"),
        row.choice("grade", Status),
        row.optional_text("plain_answer"),
        row.choice("plain_grade", Status),
        row.integer("samples_used"),
        row.shaped("classes", row.json("classes"), _vote_classes),
    )


def turn_record(row: StoredRow) -> TurnRecord:
    calls = row.json("tool_calls") if row.values.get("tool_calls") is not None else []
    return TurnRecord(
        row.text("problem_id"),
        row.integer("sample_index"),
        row.integer("turn_index"),
        row.text("content"),
        row.shaped("tool_calls", calls, _tool_calls),
        row.optional_text("finish_reason"),
        row.optional_integer("prompt_tokens"),
        row.optional_integer("completion_tokens"),
        row.optional_number("cost_usd"),
        row.optional_number("latency_s"),
    )


def cell_record(row: StoredRow) -> CellRecord:
    return CellRecord(
        row.text("problem_id"),
        row.integer("sample_index"),
        row.integer("cell_index"),
        row.integer("turn_index"),
        row.text("code"),
        row.text("output"),
        row.text("status"),
        row.number("duration_s"),
        row.number("cpu_s"),
    )


def failure_record(row: StoredRow) -> FailureRecord:
    return FailureRecord(
        row.text("problem_id"),
        row.integer("sample_index"),
        row.text("error"),
        row.number("failed_at"),
        row.optional_text("kind"),
    )


def message_list(row: StoredRow) -> tuple[Message, ...]:
    """The ``messages`` column: a sample's conversation."""
    return row.shaped("messages", row.json("messages"), _messages)


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError("expected a list of strings")
    return tuple(value)


def _vote_classes(value: object) -> tuple[VoteClassRecord, ...]:
    if not isinstance(value, list):
        raise TypeError("expected a list of answer classes")
    return tuple(_vote_class(item) for item in value)


def _vote_class(data: object) -> VoteClassRecord:
    item = _mapping(data, "an answer class")
    answer, score = item["answer"], item["score"]
    true, uncertain, false = (item[name] for name in ("true", "uncertain", "false"))
    members = item["samples"]
    if answer is not None and not isinstance(answer, str):
        raise TypeError("an answer that is not text")
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise TypeError("a score that is not a number")
    if not all(_is_int(n) for n in (true, uncertain, false)) or not isinstance(members, list):
        raise TypeError("counts that are not integers")
    if not all(_is_int(n) for n in members):
        raise TypeError("samples that are not integers")
    return VoteClassRecord(answer, float(score), true, uncertain, false, tuple(members))


def _tool_calls(value: object) -> tuple[ToolCall, ...]:
    if not isinstance(value, list):
        raise TypeError("expected a list of tool calls")
    return tuple(_tool_call(item) for item in value)


def _tool_call(data: object) -> ToolCall:
    item = _mapping(data, "a tool call")
    fields = (item["id"], item["name"], item["arguments"])
    if not all(isinstance(part, str) for part in fields):
        raise TypeError("a tool call whose id, name or arguments are not text")
    return ToolCall(*fields)


def _messages(value: object) -> tuple[Message, ...]:
    if not isinstance(value, list):
        raise TypeError("expected a list of messages")
    return tuple(_message(item) for item in value)


def _message(data: object) -> Message:
    item = _mapping(data, "a message")
    role, content, call_id = item["role"], item["content"], item.get("tool_call_id")
    if not isinstance(role, str) or not isinstance(content, str):
        raise TypeError("a message whose role or content is not text")
    if call_id is not None and not isinstance(call_id, str):
        raise TypeError("a tool_call_id that is not text")
    return Message(role, content, _tool_calls(item.get("tool_calls", [])), call_id)  # type: ignore[arg-type]


def _mapping(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise TypeError(f"{what} that is not an object")
    return data


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
