"""The data the transcript viewer embeds: a light index of every problem (for the list and its
filters) and, per problem, the full detail (samples, turns, cells, votes).

Problems are read one at a time from ordered cursors over the turns and cells tables, so
memory stays flat however large the run; only the samples table is read at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from verimath.store import RunStore, VoteRecord, iter_rows

__all__ = ["ProblemView", "iter_problem_views", "split_fenced", "to_script_json"]

STATES = ("True", "Uncertain", "False")
SNIPPET = 160  # characters of the question shown in the list
SHORT = 60  # characters of answers shown in the list

_PYTHON_BLOCK = re.compile(r"```python[^\S\n]*\n(.*?)\n?```", re.S)

TURNS_QUERY = (
    "SELECT t.problem_id, t.sample_index, t.turn_index, t.content, t.tool_calls, "
    "t.finish_reason, t.prompt_tokens, t.completion_tokens, t.latency_s "
    "FROM turns t JOIN problems p USING (problem_id) "
    "ORDER BY p.position, t.sample_index, t.turn_index"
)
CELLS_QUERY = (
    "SELECT c.problem_id, c.sample_index, c.turn_index, c.code, c.output, c.status, "
    "c.duration_s FROM cells c JOIN problems p USING (problem_id) "
    "ORDER BY p.position, c.sample_index, c.cell_index"
)


@dataclass(frozen=True)
class ProblemView:
    """One problem as the viewer shows it: ``entry`` for the list, ``detail`` when opened."""

    entry: dict[str, Any]
    detail: dict[str, Any]


class _Grouped:
    """Rows of an ordered query, taken problem by problem (rows carry the id first)."""

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self._next = next(self._rows, None)

    def take(self, problem_id: str) -> list[tuple[Any, ...]]:
        found = []
        while self._next is not None and self._next[0] == problem_id:
            found.append(self._next)
            self._next = next(self._rows, None)
        return found


def iter_problem_views(store: RunStore, k: int) -> Iterator[ProblemView]:
    """Every problem of the run in run order, with samples below ``k`` only."""
    samples: dict[str, list[dict[str, Any]]] = {}
    for sample in store.samples():
        if sample["sample_index"] < k:
            samples.setdefault(sample["problem_id"], []).append(sample)
    votes = {v.problem_id: v for v in store.votes()}
    turns, cells = _Grouped(iter_rows(store, TURNS_QUERY)), _Grouped(iter_rows(store, CELLS_QUERY))
    for position, problem in enumerate(store.problems()):
        pid = problem["problem_id"]
        rows = samples.get(pid, [])
        turn_rows, cell_rows = turns.take(pid), cells.take(pid)
        details = [_sample(store, s, _of(turn_rows, s), _of(cell_rows, s)) for s in rows]
        prompt = _prompt(store.messages(pid, rows[0]["sample_index"])) if rows else None
        vote = votes.get(pid)
        detail = {
            "pos": position,
            "id": pid,
            "question": problem["question"],
            "gold": problem["gold"],
            "subject": problem["subject"],
            "level": problem["level"],
            "prompt": prompt,
            "vote": _vote(vote, rows),
            "samples": details,
        }
        yield ProblemView(_entry(position, problem, rows, vote), detail)


def _of(rows: list[tuple[Any, ...]], sample: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [r for r in rows if r[1] == sample["sample_index"]]


def _entry(
    position: int, problem: dict[str, Any], samples: list[dict[str, Any]], vote: VoteRecord | None
) -> dict[str, Any]:
    states = {state: sum(s["state"] == state for s in samples) for state in STATES}
    return {
        "pos": position,
        "id": problem["problem_id"],
        "subject": problem["subject"],
        "level": problem["level"],
        "q": _cut(" ".join(problem["question"].split()), SNIPPET),
        "gold": _cut(problem["gold"], SHORT),
        "answer": _cut(vote.answer, SHORT) if vote and vote.answer is not None else None,
        "grade": vote.grade if vote else None,
        "plain": vote.plain_grade if vote else None,
        "differ": bool(vote and vote.answer != vote.plain_answer),
        "classes": len([c for c in vote.classes if c["answer"] is not None]) if vote else 0,
        "samples": len(samples),
        "correct": sum(s["grade"] == "correct" for s in samples),
        "states": states,
    }


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _vote(vote: VoteRecord | None, samples: list[dict[str, Any]]) -> dict[str, Any] | None:
    if vote is None:
        return None
    grade_of = {s["sample_index"]: s["grade"] for s in samples}
    classes = [
        {**c, "grade": grade_of.get(c["samples"][0]) if c["samples"] else None}
        for c in vote.classes
    ]
    return {
        "answer": vote.answer,
        "grade": vote.grade,
        "plain_answer": vote.plain_answer,
        "plain_grade": vote.plain_grade,
        "classes": classes,
    }


def _prompt(messages: list[dict[str, Any]]) -> str | None:
    return next((m["content"] for m in messages if m["role"] == "user"), None)


def _sample(
    store: RunStore,
    sample: dict[str, Any],
    turn_rows: list[tuple[Any, ...]],
    cell_rows: list[tuple[Any, ...]],
) -> dict[str, Any]:
    notes = _notes(store, sample, cell_rows) if sample["revisions"] else {}
    turns = []
    for row in turn_rows:
        turn_index = row[2]
        cells = [
            {"code": c[3], "output": c[4], "status": c[5], "time": round(c[6], 3)}
            for c in cell_rows
            if c[2] == turn_index
        ]
        turns.append(
            {
                "parts": _parts(row[3], cells),
                "finish": row[5],
                "tokens": (row[6] or 0) + (row[7] or 0),
                "latency": round(row[8] or 0.0, 3),
                "notes": notes.get(turn_index, []),
            }
        )
    return {
        "i": sample["sample_index"],
        "answer": sample["answer"],
        "method": sample["answer_method"],
        "state": sample["state"],
        "evidence": sample["evidence"],
        "grade": sample["grade"],
        "code": sample["code_executions"],
        "refusals": sample["code_refusals"],
        "violations": sample["rule_violations"],
        "revisions": sample["revisions"],
        "stop": sample["stop_reason"],
        "tokens": sample["prompt_tokens"] + sample["completion_tokens"],
        "cost": sample["cost_usd"],
        "time": round(sample["duration_s"], 3),
        "turns": turns,
    }


def split_fenced(content: str) -> list[tuple[str, str]]:
    """``("text", ...)`` and ``("code", ...)`` parts of a fenced-style message, in order."""
    parts: list[tuple[str, str]] = []
    last = 0
    for match in _PYTHON_BLOCK.finditer(content):
        if content[last : match.start()].strip():
            parts.append(("text", content[last : match.start()]))
        parts.append(("code", match.group(1)))
        last = match.end()
    if content[last:].strip():
        parts.append(("text", content[last:]))
    return parts


def _parts(content: str, cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prose and code of a turn; a code block that ran becomes its cell (code, output,
    status), one that did not is marked ``unrun``; cells of tool calls come last."""
    pending = list(cells)
    parts: list[dict[str, Any]] = []
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
    store: RunStore, sample: dict[str, Any], cell_rows: list[tuple[Any, ...]]
) -> dict[int, list[str]]:
    """User messages that are not code outputs (revision requests), by the turn they follow.

    After assistant turn i, as many user/tool messages as turn i has cells are its outputs;
    any further user message before the next assistant turn is a note.
    """
    cells_per_turn: dict[int, int] = {}
    for row in cell_rows:
        cells_per_turn[row[2]] = cells_per_turn.get(row[2], 0) + 1
    notes: dict[int, list[str]] = {}
    turn, replies = -1, 0
    for message in store.messages(sample["problem_id"], sample["sample_index"]):
        role = message["role"]
        if role == "assistant":
            turn += 1
            replies = cells_per_turn.get(turn, 0)
        elif role in ("user", "tool") and turn >= 0:
            if replies:
                replies -= 1
            else:
                notes.setdefault(turn, []).append(message["content"])
    return notes


def to_script_json(value: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&``
    survives literally, so no text can close the element or open a comment."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
