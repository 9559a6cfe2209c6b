"""How each known benchmark's records become :class:`Problem` objects, and the generic mapping.

Question and answer conventions follow the evaluation harness the files come from
(Qwen2.5-Math ``evaluation/parser.py``, itself ToRA's), so accuracies stay comparable:

- MATH, MATH-500: ``problem``; gold = the ``answer`` field; id = ``unique_id``.
- GSM8K: ``question``; gold = the text after the last ``####`` of ``answer``, stripped of
  surrounding spaces but otherwise raw (``1,000`` keeps its comma); solution = the text before.
- GSM-Hard: ``input``; gold = ``target``; solution = ``code``.
- SVAMP: ``Body`` (a final ``.`` added if missing) + space + ``Question``; gold = ``Answer``;
  solution = ``Equation``; subject = ``Type``; id = ``svamp/<ID>``.
- ASDiv: ``body`` + space + ``question``; gold = ``answer`` without its trailing unit in
  parentheses (``9 (apples)`` -> ``9``; the raw value stays in ``meta["raw_answer"]``);
  solution = ``formula``; subject = ``solution_type``.
- MAWPS: ``input``; gold = ``target``; subject = ``type`` (addsub, multiarith, ...).
- AIME24, AMC23: ``problem``; gold = ``answer`` (AIME keeps leading zeros: ``025``).
- MMLU-STEM: ``question`` + ``"\\nAnswer Choices: (A) ... (B) ... (C) ... (D) ..."`` (each
  choice stripped); gold = the letter of ``answer`` (an index); subject = ``type``.
- college_math: ``question``; gold = ``answer`` raw (often ``$...$`` LaTeX);
  subject = ``data_topic``; ``license`` and the source fields stay in ``meta``.

Gold answers stored as JSON numbers are printed by
:func:`~verimath.datasets.records.number_text` (``145.0`` -> ``145``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verimath.datasets.problem import Problem
from verimath.datasets.records import Record
from verimath.errors import InputError

__all__ = [
    "ANSWER_FIELDS",
    "KNOWN_BUILDERS",
    "QUESTION_FIELDS",
    "Builder",
    "FieldMapping",
    "Origin",
    "format_choices",
    "infer_mapping",
    "known_name",
]

QUESTION_FIELDS = ("question", "problem", "input")
ANSWER_FIELDS = ("answer", "target", "gold")
ID_FIELDS = ("id", "unique_id", "idx")
CHOICE_FIELDS = ("choices", "options")
LETTERS = string.ascii_uppercase

# "9 (apples)" -> "9"; "-(1/3)" has no space before its parenthesis and is left alone.
_TRAILING_UNIT = re.compile(r"\s+\([^()]*[A-Za-z][^()]*\)\s*$")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where records come from: names the dataset and makes ids."""

    dataset: str
    split: str | None = None

    def default_id(self, index: int) -> str:
        """``<dataset>/<index>`` or ``<dataset>/<split>/<index>`` (0-based index)."""
        parts = (self.dataset, self.split, str(index))
        return "/".join(part for part in parts if part)


Builder = Callable[[Record, Origin], Problem]


def format_choices(question: str, choices: Sequence[str]) -> str:
    """``question`` + a line ``Answer Choices: (A) ... (B) ...``, as in Qwen2.5-Math's MMLU."""
    options = " ".join(f"({LETTERS[i]}) {choice.strip()}" for i, choice in enumerate(choices))
    return f"{question.strip()}\nAnswer Choices: {options}"


def _choices(record: Record, field: str) -> tuple[str, ...]:
    choices = record.string_list(field)
    if not 2 <= len(choices) <= len(LETTERS):
        raise record.error(f"expected 2 to {len(LETTERS)} choices, got {len(choices)}", field)
    return choices


def _choice_letter(record: Record, field: str, choices: Sequence[str]) -> str:
    """The gold letter: from a 0-based index, or a letter already."""
    value = record.raw(field)
    valid = LETTERS[: len(choices)]
    if isinstance(value, str) and len(value.strip()) == 1 and value.strip().upper() in valid:
        return value.strip().upper()
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(choices):
        return LETTERS[value]
    expected = f"an index 0-{len(choices) - 1} or a letter {valid[0]}-{valid[-1]}"
    raise record.error(f"expected {expected}, got {value!r}", field)


def _math(record: Record, origin: Origin) -> Problem:
    used = ("unique_id", "problem", "answer", "subject", "level", "solution")
    return Problem(
        id=record.identifier("unique_id"),
        question=record.text("problem"),
        answer=record.answer("answer"),
        dataset=origin.dataset,
        subject=record.text("subject"),
        level=record.integer("level"),
        solution=record.text("solution"),
        meta=record.rest(used),
    )


def _gsm8k(record: Record, origin: Origin) -> Problem:
    solution, marker, final = record.text("answer").rpartition("####")
    if not marker or not final.strip():
        raise record.error("has no final answer after '####'", "answer")
    split = origin.split or "test"
    return Problem(
        id=f"{origin.dataset}/{split}/{record.index}",
        question=record.text("question"),
        answer=final.strip(),
        dataset=origin.dataset,
        solution=solution.strip() or None,
        meta=record.rest(("question", "answer")),
    )


def _gsm_hard(record: Record, origin: Origin) -> Problem:
    return Problem(
        id=f"{origin.dataset}/{record.identifier('idx')}",
        question=record.text("input"),
        answer=record.answer("target"),
        dataset=origin.dataset,
        solution=record.optional_text("code"),
        meta=record.rest(("idx", "input", "target", "code")),
    )


def _svamp(record: Record, origin: Origin) -> Problem:
    body = record.text("Body").strip()
    body = body if body.endswith(".") else f"{body}."
    return Problem(
        id=f"{origin.dataset}/{record.identifier('ID')}",
        question=f"{body} {record.text('Question').strip()}",
        answer=record.answer("Answer"),
        dataset=origin.dataset,
        subject=record.optional_text("Type"),
        solution=record.optional_text("Equation"),
        meta=record.rest(("ID", "Body", "Question", "Answer", "Type", "Equation")),
    )


def _asdiv(record: Record, origin: Origin) -> Problem:
    raw_answer = record.answer("answer")
    answer = _TRAILING_UNIT.sub("", raw_answer).strip()
    if not answer:
        raise record.error(f"nothing is left of {raw_answer!r} without its unit", "answer")
    meta = record.rest(("idx", "body", "question", "answer", "solution_type", "formula"))
    if answer != raw_answer:
        meta["raw_answer"] = raw_answer
    return Problem(
        id=f"{origin.dataset}/{record.identifier('idx')}",
        question=f"{record.text('body').strip()} {record.text('question').strip()}",
        answer=answer,
        dataset=origin.dataset,
        subject=record.optional_text("solution_type"),
        solution=record.optional_text("formula"),
        meta=meta,
    )


def _mawps(record: Record, origin: Origin) -> Problem:
    return Problem(
        id=f"{origin.dataset}/{record.identifier('idx')}",
        question=record.text("input"),
        answer=record.answer("target"),
        dataset=origin.dataset,
        subject=record.optional_text("type"),
        meta=record.rest(("idx", "input", "target", "type")),
    )


def _competition(record: Record, origin: Origin) -> Problem:
    """AIME24 and AMC23: ``question`` duplicates ``problem`` there and is dropped."""
    return Problem(
        id=f"{origin.dataset}/{record.identifier('id')}",
        question=record.text("problem"),
        answer=record.answer("answer"),
        dataset=origin.dataset,
        solution=record.optional_text("solution"),
        meta=record.rest(("id", "problem", "question", "answer", "solution")),
    )


def _mmlu_stem(record: Record, origin: Origin) -> Problem:
    stem = record.text("question")
    choices = _choices(record, "choices")
    meta = record.rest(("question", "choices", "answer", "type"))
    meta["stem"] = stem
    return Problem(
        id=f"{origin.dataset}/{record.index}",
        question=format_choices(stem, choices),
        answer=_choice_letter(record, "answer", choices),
        dataset=origin.dataset,
        subject=record.optional_text("type"),
        choices=choices,
        meta=meta,
    )


def _college_math(record: Record, origin: Origin) -> Problem:
    return Problem(
        id=f"{origin.dataset}/{record.index}",
        question=record.text("question"),
        answer=record.answer("answer"),
        dataset=origin.dataset,
        subject=record.optional_text("data_topic"),
        meta=record.rest(("question", "answer", "data_topic")),
    )


# name of the dataset (and of its directory under a data dir) -> builder
KNOWN_BUILDERS: dict[str, Builder] = {
    "math": _math,
    "math500": _math,
    "gsm8k": _gsm8k,
    "gsm-hard": _gsm_hard,
    "svamp": _svamp,
    "asdiv": _asdiv,
    "mawps": _mawps,
    "aime24": _competition,
    "amc23": _competition,
    "mmlu_stem": _mmlu_stem,
    "college_math": _college_math,
}


def known_name(name: str) -> str | None:
    """The canonical name of a known dataset, ignoring case, ``-``, ``_`` and spaces
    (``GSM_Hard`` -> ``gsm-hard``); None if ``name`` is not one."""
    key = _name_key(name)
    return next((known for known in KNOWN_BUILDERS if _name_key(known) == key), None)


def _name_key(name: str) -> str:
    return re.sub(r"[-_\s]", "", name.strip().lower())


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Which source field fills which :class:`Problem` attribute (None: not present)."""

    question: str
    answer: str
    id: str | None = None
    subject: str | None = None
    level: str | None = None
    solution: str | None = None
    choices: str | None = None

    def build(self, record: Record, origin: Origin) -> Problem:
        """The problem of one record under this mapping."""
        question = record.text(self.question)
        choices = None
        if self.choices is not None and record.has(self.choices):
            choices = _choices(record, self.choices)
        if choices is not None:
            answer = _choice_letter(record, self.answer, choices)
            question = format_choices(question, choices)
        else:
            answer = record.answer(self.answer)
        used = (self.question, self.answer, self.id, self.subject, self.level, self.solution)
        return Problem(
            id=record.identifier(self.id) if self.id else origin.default_id(record.index),
            question=question,
            answer=answer,
            dataset=origin.dataset,
            subject=record.optional_text(self.subject),
            level=record.level(self.level),
            solution=record.optional_text(self.solution),
            choices=choices,
            meta=record.rest([*(name for name in used if name), self.choices or ""]),
        )


def infer_mapping(
    records: Sequence[Record],
    *,
    question_field: str | None = None,
    answer_field: str | None = None,
    id_field: str | None = None,
) -> FieldMapping:
    """The mapping for a generic source: given field names, else common names among the
    fields of ``records`` (all of them, so an optional field may start late).

    Detection is case-insensitive and takes the first match in order: question from
    ``question, problem, input``; answer from ``answer, target, gold``; id from
    ``id, unique_id, idx`` (else ``<dataset>/<index>``); and ``subject``, ``level``,
    ``solution``, ``choices``/``options`` when present. Given names must match exactly.
    """
    first = records[0]
    by_lower: dict[str, str] = {}
    for record in records:
        for key in record.data:
            by_lower.setdefault(key.lower(), key)

    def find(names: Sequence[str]) -> str | None:
        return next((by_lower[name] for name in names if name in by_lower), None)

    question = question_field or find(QUESTION_FIELDS)
    answer = answer_field or find(ANSWER_FIELDS)

    def missing(role: str, names: Sequence[str]) -> InputError:
        present = ", ".join(repr(key) for key in by_lower.values()) or "none"
        message = (
            f"no {role} field: none of {', '.join(names)} is present (fields: {present}); "
            f"name it with --{role}-field"
        )
        return InputError(message, path=first.path, line=first.line)

    if question is None:
        raise missing("question", QUESTION_FIELDS)
    if answer is None:
        raise missing("answer", ANSWER_FIELDS)
    return FieldMapping(
        question=question,
        answer=answer,
        id=id_field or find(ID_FIELDS),
        subject=find(("subject",)),
        level=find(("level",)),
        solution=find(("solution",)),
        choices=find(CHOICE_FIELDS),
    )
