"""Agreement with another harness's verdicts, and why every disagreement happened.

Given verimath's grade and another grader's label for the same outputs, ``explain`` counts
agreement and puts every disagreement in exactly one named group, tried in this order:

``timeout``                            verimath's comparison ran out of time or memory.
``extraction found nothing``           verimath found no answer in the output.
``extraction found a different span``  the other harness's own extracted answer, graded by
                                       verimath, gets the other harness's verdict: the two
                                       read different answers out of the text (needs that
                                       answer, e.g. ``--against-answer``).
``units``                              a unit, a degree or percent sign was removed from a
                                       side, or one side is 100 times the other.
``numeric tolerance``                  two plain numbers, one a decimal, unequal: graders
                                       differ in how close a rounded value must be.
``sets and order``                     a list, tuple, interval or set on either side.
``rule: NAME``                         otherwise, the rule of verimath's that decided
                                       (``rule: symbolic``, ``rule: exact``, ``rule: text``,
                                       ``rule: answer not parseable``, ``rule: thousands
                                       separator``, ...).

This module reads no files; the CLI and the report feed it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from verimath.grading.extraction import reference_answer
from verimath.grading.grader import Grader
from verimath.grading.normalize import Answer, list_size, normalize_answer
from verimath.grading.numeric import parse_number
from verimath.grading.rules import rules_for
from verimath.grading.status import GradeResult, Status

__all__ = [
    "NOTHING",
    "RULE",
    "SETS",
    "SPAN",
    "TIMEOUT",
    "TOLERANCE",
    "UNITS",
    "Agreement",
    "Disagreement",
    "Group",
    "Labelled",
    "agreement_text",
    "cause_of",
    "explain",
    "read_label",
]

TIMEOUT = "timeout"
NOTHING = "extraction found nothing"
SPAN = "extraction found a different span"
UNITS = "units"
TOLERANCE = "numeric tolerance"
SETS = "sets and order"
RULE = "rule: "
EXAMPLES = 3
"""Examples kept per group."""

_TRUE = frozenset({"correct", "true", "yes", "1", "right", "pass"})
_FALSE = frozenset({"incorrect", "false", "no", "0", "wrong", "fail", "unparseable", "timeout"})
_THOUSANDS = re.compile(r"\d(?:,|\{,\}|\\,|\\!|\s)\d{3}(?!\d)")
_SET_MARKS = ("\\cup", "\\cap", "\\pm", "\\{", "\\emptyset", "\\infty")


@dataclass(frozen=True)
class Labelled:
    """One output as verimath graded it and as another harness labelled it.

    Attributes:
        record: where it is, for the reader ("line 12", "line 12 #3", "problem 7 sample 0").
        gold: the reference answer as given.
        pred: the output verimath graded (model text or an extracted answer).
        dataset: the dataset rules used, or None.
        ours: verimath's status.
        theirs: the other harness's verdict (True: correct).
        their_answer: the answer the other harness extracted, when it recorded one.
    """

    record: str
    gold: object
    pred: object
    dataset: str | None
    ours: Status
    theirs: bool
    their_answer: str | None = None

    @property
    def agrees(self) -> bool:
        return (self.ours is Status.CORRECT) == self.theirs


@dataclass(frozen=True)
class Disagreement:
    """One disagreement and its cause."""

    record: str
    cause: str
    ours: str
    theirs: str
    gold: str
    answer: str | None
    their_answer: str | None
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class Group:
    """The disagreements of one cause: how many, and the first few."""

    cause: str
    count: int
    examples: tuple[Disagreement, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "count": self.count,
            "examples": [e.to_dict() for e in self.examples],
        }


@dataclass(frozen=True)
class Agreement:
    """Agreement counts and the disagreements grouped by cause (largest group first).

    ``only_ours``: verimath says correct, the other harness does not; ``only_theirs``: the
    reverse. Each disagreement is in exactly one group, so the group counts add up to
    ``only_ours + only_theirs``.
    """

    total: int
    both_correct: int
    both_not: int
    only_ours: int
    only_theirs: int
    groups: tuple[Group, ...]

    @property
    def agreed(self) -> int:
        return self.both_correct + self.both_not

    @property
    def disagreed(self) -> int:
        return self.only_ours + self.only_theirs

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "agreed": self.agreed,
            "both_correct": self.both_correct,
            "both_not_correct": self.both_not,
            "only_verimath_correct": self.only_ours,
            "only_theirs_correct": self.only_theirs,
            "verimath_accuracy": _share(self.both_correct + self.only_ours, self.total),
            "their_accuracy": _share(self.both_correct + self.only_theirs, self.total),
            "groups": [g.to_dict() for g in self.groups],
        }


def read_label(value: object) -> bool | None:
    """A verdict as harnesses record it: a boolean, 0/1, or a word ("correct", "false",
    "wrong", ...); None when ``value`` is none of these."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def explain(grader: Grader, items: Sequence[Labelled], *, examples: int = EXAMPLES) -> Agreement:
    """Count agreement over ``items`` and group every disagreement by its cause.

    Only disagreements are graded again (for the rule that decided; worker verdicts come
    from the grader's cache), and with them the other harness's own answers.
    """
    differing = [item for item in items if not item.agrees]
    ours = grader.grade_many([(i.gold, i.pred, i.dataset) for i in differing])
    theirs = _their_grades(grader, differing)
    grouped: dict[str, list[Disagreement]] = defaultdict(list)
    for item, result, their_grade in zip(differing, ours, theirs, strict=True):
        found = _disagreement(item, result, their_grade)
        grouped[found.cause].append(found)
    groups = sorted(
        (Group(cause, len(found), tuple(found[:examples])) for cause, found in grouped.items()),
        key=lambda group: (-group.count, group.cause),
    )
    correct_ours = [item.ours is Status.CORRECT for item in items]
    return Agreement(
        total=len(items),
        both_correct=sum(o and i.theirs for o, i in zip(correct_ours, items, strict=True)),
        both_not=sum(not o and not i.theirs for o, i in zip(correct_ours, items, strict=True)),
        only_ours=sum(o and not i.theirs for o, i in zip(correct_ours, items, strict=True)),
        only_theirs=sum(not o and i.theirs for o, i in zip(correct_ours, items, strict=True)),
        groups=tuple(groups),
    )


def _their_grades(grader: Grader, items: Sequence[Labelled]) -> list[GradeResult | None]:
    asked = [i for i, item in enumerate(items) if item.their_answer is not None]
    graded = grader.grade_many(
        [(items[i].gold, items[i].their_answer, items[i].dataset) for i in asked]
    )
    results: list[GradeResult | None] = [None] * len(items)
    for index, result in zip(asked, graded, strict=True):
        results[index] = result
    return results


def _disagreement(
    item: Labelled, result: GradeResult, their_grade: GradeResult | None
) -> Disagreement:
    return Disagreement(
        record=item.record,
        cause=cause_of(item, result, their_grade),
        ours=item.ours.value,
        theirs="correct" if item.theirs else "not correct",
        gold=result.gold,
        answer=result.answer,
        their_answer=item.their_answer,
        rule=result.detail,
    )


def cause_of(item: Labelled, result: GradeResult, their_grade: GradeResult | None) -> str:
    """The one group a disagreement belongs to (see the module docstring for the order)."""
    if item.ours is Status.TIMEOUT or result.status is Status.TIMEOUT:
        return TIMEOUT
    if result.answer is None:
        return NOTHING
    if their_grade is not None and their_grade.correct == item.theirs:
        return SPAN
    rules = rules_for(item.dataset)
    gold = normalize_answer(reference_answer(result.gold, rules), rules)
    pred = normalize_answer(result.answer, rules)
    return _value_cause(gold, pred, result) or RULE + _rule_name(result)


def _value_cause(gold: Answer, pred: Answer, result: GradeResult) -> str | None:
    if gold.unit or pred.unit or gold.percent or pred.percent or "\\circ" in str(result.answer):
        return UNITS
    gold_number, pred_number = parse_number(gold.text), parse_number(pred.text)
    if gold_number is not None and pred_number is not None:
        if _hundredfold(gold_number.value, pred_number.value):
            return UNITS
        if gold_number.decimal or pred_number.decimal:
            return TOLERANCE
    if result.detail.startswith("numeric") and "." in gold.text + pred.text:
        return TOLERANCE  # the numeric rule decided on a decimal: how close is close enough
    if list_size(gold) > 1 or list_size(pred) > 1 or _is_collection(gold) or _is_collection(pred):
        return SETS
    return None


def _hundredfold(gold: Fraction, pred: Fraction) -> bool:
    return gold != 0 and pred != 0 and (gold == 100 * pred or pred == 100 * gold)


def _is_collection(answer: Answer) -> bool:
    text = answer.text
    if any(mark in text for mark in _SET_MARKS):
        return True
    return text[:1] in "([" and text[-1:] in ")]" and "," in text


def _rule_name(result: GradeResult) -> str:
    """The rule that decided: ``answer not parseable: I don't understand`` is ``answer not
    parseable``; answers equal once normalised name what normalisation removed."""
    if result.detail == "identical":
        raw = f"{result.gold} {result.answer}"
        return "thousands separator" if _THOUSANDS.search(raw) else "notation (normalised away)"
    return result.detail.split(":", 1)[0].strip() or "unknown"


def agreement_text(agreement: Agreement, against: str) -> str:
    """The agreement table and the groups with their examples, as plain text."""
    ours = agreement.both_correct + agreement.only_ours
    theirs = agreement.both_correct + agreement.only_theirs
    lines = [
        f"agreement with {against}: {agreement.agreed} of {agreement.total} "
        f"({_percent(agreement.agreed, agreement.total)})",
        f"  both correct {agreement.both_correct}, both not correct {agreement.both_not}, "
        f"only verimath correct {agreement.only_ours}, only {against} correct "
        f"{agreement.only_theirs}",
        f"  accuracy: verimath {_percent(ours, agreement.total)}, "
        f"{against} {_percent(theirs, agreement.total)}",
    ]
    if agreement.groups:
        lines.append(f"disagreements by cause ({agreement.disagreed}):")
    for group in agreement.groups:
        lines.append(f"  {group.cause}: {group.count}")
        lines += [f"    {_example(example)}" for example in group.examples]
    return "\n".join(lines)


def _example(example: Disagreement) -> str:
    theirs = (
        f" (theirs: {_short(example.their_answer)})" if example.their_answer is not None else ""
    )
    return (
        f"{example.record}: gold {_short(example.gold)}, answer {_short(example.answer)}{theirs}; "
        f"verimath {example.ours} ({example.rule}), other {example.theirs}"
    )


def _short(text: str | None, limit: int = 40) -> str:
    if text is None:
        return "none"
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "n/a"
