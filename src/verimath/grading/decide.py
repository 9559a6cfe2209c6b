"""Verdicts that need no worker: identical answers, plain numbers, words, option letters.

These run in the calling process on normalised strings only: nothing is parsed into SymPy,
nothing is evaluated. Whatever they cannot decide goes to the worker pool.
"""

from __future__ import annotations

from verimath.grading.normalize import Answer, text_key
from verimath.grading.numeric import numbers_match, parse_number
from verimath.grading.rules import AnswerKind, DatasetRules
from verimath.grading.status import Status, Verdict

__all__ = ["MAX_PARSE_CHARS", "quick_verdict"]

MAX_PARSE_CHARS = 2000
"""Answers longer than this are never parsed: unless identical, they are unparseable."""


def quick_verdict(
    gold: Answer, pred: Answer, rules: DatasetRules, *, shortcuts: bool = True
) -> Verdict | None:
    """Decide without SymPy when the rules allow it; None means "ask a worker".

    ``shortcuts=False`` skips the identity and plain-number paths (used to measure the
    workers); word answers, option letters and over-long answers are decided here always.
    """
    if not gold.text:
        return Verdict(Status.UNPARSEABLE, "empty reference answer")
    if not pred.text:
        return Verdict(Status.UNPARSEABLE, "empty answer")
    if rules.kind is AnswerKind.CHOICE:
        return _choice(gold, pred, rules.choices)
    if shortcuts and gold.text == pred.text:
        return Verdict(Status.CORRECT, "identical")
    if len(gold.text) > MAX_PARSE_CHARS or len(pred.text) > MAX_PARSE_CHARS:
        return Verdict(
            Status.UNPARSEABLE, f"answer longer than {MAX_PARSE_CHARS} characters is not parsed"
        )
    if gold.is_text or pred.is_text:
        if rules.kind is AnswerKind.NUMBER and not gold.is_text and not _has_digit(pred.text):
            return Verdict(Status.UNPARSEABLE, "no number in the answer")
        same = text_key(gold) == text_key(pred)
        return Verdict(Status.CORRECT if same else Status.INCORRECT, "text")
    if shortcuts:
        return _numeric(gold, pred)
    return None


def _has_digit(text: str) -> bool:
    return any(char.isdigit() for char in text)


def _choice(gold: Answer, pred: Answer, letters: str) -> Verdict:
    if len(gold.text) != 1 or gold.text not in letters:
        return Verdict(Status.UNPARSEABLE, f"reference {gold.text!r} is not an option letter")
    if len(pred.text) != 1 or pred.text not in letters:
        return Verdict(Status.UNPARSEABLE, "no option letter in the answer")
    return Verdict(Status.CORRECT if gold.text == pred.text else Status.INCORRECT, "choice")


def _numeric(gold: Answer, pred: Answer) -> Verdict | None:
    gold_number, pred_number = parse_number(gold.text), parse_number(pred.text)
    if gold_number is None or pred_number is None:
        return None
    same = numbers_match(gold_number, pred_number)
    detail = "numeric" if gold.percent == pred.percent else "numeric, percent sign ignored"
    return Verdict(Status.CORRECT if same else Status.INCORRECT, detail)
