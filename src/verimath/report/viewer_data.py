"""The data the transcript viewer embeds: a light index of every problem (for the list and its
filters) and, per problem, the full detail (samples, turns, cells, votes).

Problems are read one at a time from ordered cursors over the turns and cells tables, so
memory stays flat however large the run; only the samples table is read at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypedDict, TypeVar

from verimath.models import Message
from verimath.models.tools import fenced_cells
from verimath.run_records import CellRecord, ProblemRecord, SampleRecord, TurnRecord, VoteRecord
from verimath.store import RunStore

__all__ = ["ProblemView", "iter_problem_views", "split_fenced", "to_script_json"]

STATES = ("True", "Uncertain", "False")
SNIPPET = 160  # characters of the question shown in the list
SHORT = 60  # characters of answers shown in the list


class ListEntry(TypedDict):
    """A problem in the viewer's list (texts cut short), with what its filters look at."""

    pos: int
    id: str
    subject: str | None
    level: int | None
    q: str
    gold: str
    answer: str | None
    grade: str | None
    plain: str | None
    differ: bool
    classes: int
    samples: int
    correct: int
    states: dict[str, int]


class CellPart(TypedDict):
    """A code cell that ran, as a part of its turn."""

    code: str
    output: str
    status: str
    time: float


class TextPart(TypedDict):
    text: str


class UnrunPart(TypedDict):
    """A code block of the turn that did not run."""

    code: str
    unrun: bool


Part = TextPart | CellPart | UnrunPart


class TurnView(TypedDict):
    parts: list[Part]
    finish: str | None
    tokens: int
    latency: float
    notes: list[str]
    """Revision requests that followed the turn."""


class SampleView(TypedDict):
    i: int
    answer: str | None
    method: str | None
    state: str
    evidence: list[str]
    grade: str
    code: int
    refusals: int
    violations: int
    revisions: int
    stop: str
    tokens: int
    cost: float | None
    time: float
    turns: list[TurnView]


class ClassView(TypedDict):
    """An answer class of the vote, with the grade of its answer."""

    answer: str | None
    score: float
    true: int
    uncertain: int
    false: int
    samples: list[int]
    grade: str | None


class VoteView(TypedDict):
    answer: str | None
    grade: str
    plain_answer: str | None
    plain_grade: str
    classes: list[ClassView]


class ProblemDetail(TypedDict):
    """A problem as the viewer shows it when opened."""

    pos: int
    id: str
    question: str
    gold: str
    subject: str | None
    level: int | None
    prompt: str | None
    vote: VoteView | None
    samples: list[SampleView]


@dataclass(frozen=True)
class ProblemView:
    """One problem as the viewer shows it: ``entry`` for the list, ``detail`` when opened."""

    entry: ListEntry
    detail: ProblemDetail


_Row = TypeVar("_Row", TurnRecord, CellRecord)


class _Grouped(Generic[_Row]):
    """Records of an ordered stream, taken problem by problem."""

    def __init__(self, records: Iterator[_Row]) -> None:
        self._records: Iterator[_Row] = records
        self._next: _Row | None = next(self._records, None)

    def take(self, problem_id: str) -> list[_Row]:
        found: list[_Row] = []
        while self._next is not None and self._next.problem_id == problem_id:
            found.append(self._next)
            self._next = next(self._records, None)
        return found


def iter_problem_views(store: RunStore, k: int) -> Iterator[ProblemView]:
    """Every problem of the run in run order, with samples below ``k`` only."""
    samples: dict[str, list[SampleRecord]] = {}
    for sample in store.samples(below=k):
        samples.setdefault(sample.problem_id, []).append(sample)
    votes = {v.problem_id: v for v in store.votes()}
    turns, cells = _Grouped(store.iter_turns()), _Grouped(store.iter_cells())
    for position, problem in enumerate(store.problems()):
        pid = problem.problem_id
        rows = samples.get(pid, [])
        turn_rows, cell_rows = turns.take(pid), cells.take(pid)
        details = [_sample(store, s, _of(turn_rows, s), _of(cell_rows, s)) for s in rows]
        prompt = _prompt(store.messages(pid, rows[0].sample_index)) if rows else None
        vote = votes.get(pid)
        detail: ProblemDetail = {
            "pos": position,
            "id": pid,
            "question": problem.question,
            "gold": problem.gold,
            "subject": problem.subject,
            "level": problem.level,
            "prompt": prompt,
            "vote": _vote(vote, rows),
            "samples": details,
        }
        yield ProblemView(_entry(position, problem, rows, vote), detail)


def _of(rows: list[_Row], sample: SampleRecord) -> list[_Row]:
    return [r for r in rows if r.sample_index == sample.sample_index]


def _entry(
    position: int, problem: ProblemRecord, samples: list[SampleRecord], vote: VoteRecord | None
) -> ListEntry:
    states = {state: sum(s.state == state for s in samples) for state in STATES}
    return {
        "pos": position,
        "id": problem.problem_id,
        "subject": problem.subject,
        "level": problem.level,
        "q": _cut(" ".join(problem.question.split()), SNIPPET),
        "gold": _cut(problem.gold, SHORT),
        "answer": _cut(vote.answer, SHORT) if vote and vote.answer is not None else None,
        "grade": str(vote.grade) if vote else None,
        "plain": str(vote.plain_grade) if vote else None,
        "differ": bool(vote and vote.answer != vote.plain_answer),
        "classes": len([c for c in vote.classes if c.answer is not None]) if vote else 0,
        "samples": len(samples),
        "correct": sum(s.correct for s in samples),
        "states": states,
    }


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _vote(vote: VoteRecord | None, samples: list[SampleRecord]) -> VoteView | None:
    if vote is None:
        return None
    grade_of = {s.sample_index: str(s.grade) for s in samples}
    classes: list[ClassView] = [
        {
            "answer": c.answer,
            "score": c.score,
            "true": c.true,
            "uncertain": c.uncertain,
            "false": c.false,
            "samples": list(c.samples),
            "grade": grade_of.get(c.samples[0]) if c.samples else None,
        }
        for c in vote.classes
    ]
    return {
        "answer": vote.answer,
        "grade": str(vote.grade),
        "plain_answer": vote.plain_answer,
        "plain_grade": str(vote.plain_grade),
        "classes": classes,
    }


def _prompt(messages: Sequence[Message]) -> str | None:
    return next((m.content for m in messages if m.role == "user"), None)


def _sample(
    store: RunStore,
    sample: SampleRecord,
    turn_rows: list[TurnRecord],
    cell_rows: list[CellRecord],
) -> SampleView:
    notes = _notes(store, sample, cell_rows) if sample.revisions else {}
    turns: list[TurnView] = []
    for turn in turn_rows:
        cells: list[CellPart] = [
            {"code": c.code, "output": c.output, "status": c.status, "time": round(c.duration_s, 3)}
            for c in cell_rows
            if c.turn_index == turn.turn_index
        ]
        turns.append(
            {
                "parts": _parts(turn.content, cells),
                "finish": turn.finish_reason,
                "tokens": (turn.prompt_tokens or 0) + (turn.completion_tokens or 0),
                "latency": round(turn.latency_s or 0.0, 3),
                "notes": notes.get(turn.turn_index, []),
            }
        )
    return {
        "i": sample.sample_index,
        "answer": sample.answer,
        "method": sample.answer_method,
        "state": str(sample.state),
        "evidence": list(sample.evidence),
        "grade": str(sample.grade),
        "code": sample.code_executions,
        "refusals": sample.code_refusals,
        "violations": sample.rule_violations,
        "revisions": sample.revisions,
        "stop": sample.stop_reason,
        "tokens": sample.prompt_tokens + sample.completion_tokens,
        "cost": sample.cost_usd,
        "time": round(sample.duration_s, 3),
        "turns": turns,
    }


def split_fenced(content: str) -> list[tuple[str, str]]:
    """``("text", ...)`` and ``("code", ...)`` parts of a fenced-style message, in order."""
    parts: list[tuple[str, str]] = []
    last = 0
    for cell in fenced_cells(content):
        if content[last : cell.start].strip():
            parts.append(("text", content[last : cell.start]))
        parts.append(("code", cell.code))
        last = cell.end
    if content[last:].strip():
        parts.append(("text", content[last:]))
    return parts


def _parts(content: str, cells: list[CellPart]) -> list[Part]:
    """Prose and code of a turn; a code block that ran becomes its cell (code, output,
    status), one that did not is marked ``unrun``; cells of tool calls come last."""
    pending = list(cells)
    parts: list[Part] = []
    for kind, text in split_fenced(content):
        if kind == "text":
            parts.append({"text": text.strip("\n")})
            continue
        match = next((c for c in pending if c["code"].strip() == text.strip()), None)
        if match is None:
            parts.append({"code": text, "unrun": True})
        else:
            pending.remove(match)
            parts.append(match)
    return parts + pending


def _notes(
    store: RunStore, sample: SampleRecord, cell_rows: list[CellRecord]
) -> dict[int, list[str]]:
    """User messages that are not code outputs (revision requests), by the turn they follow.

    After assistant turn i, as many user/tool messages as turn i has cells are its outputs;
    any further user message before the next assistant turn is a note.
    """
    cells_per_turn: dict[int, int] = {}
    for cell in cell_rows:
        cells_per_turn[cell.turn_index] = cells_per_turn.get(cell.turn_index, 0) + 1
    notes: dict[int, list[str]] = {}
    turn, replies = -1, 0
    for message in store.messages(sample.problem_id, sample.sample_index):
        role = message.role
        if role == "assistant":
            turn += 1
            replies = cells_per_turn.get(turn, 0)
        elif role in ("user", "tool") and turn >= 0:
            if replies:
                replies -= 1
            else:
                notes.setdefault(turn, []).append(message.content)
    return notes


def to_script_json(value: object) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&``
    survives literally, so no text can close the element or open a comment."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
