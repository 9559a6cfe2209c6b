"""Verdicts of one comparison: the four statuses and the result records built from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from verimath.grading.extraction import Extraction

__all__ = ["GradeResult", "Status", "Verdict"]


class Status(StrEnum):
    """How a comparison came out; the four are always counted apart.

    ``unparseable`` means no answer could be found or read (on either side: ``detail`` says
    which); ``timeout`` means the comparison exceeded its time or memory budget, or the worker
    doing it died.
    """

    CORRECT = "correct"
    INCORRECT = "incorrect"
    UNPARSEABLE = "unparseable"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing two normalised answers, before it is tied to a record."""

    status: Status
    detail: str


@dataclass(frozen=True)
class GradeResult:
    """The grade of one prediction against one reference answer.

    Attributes:
        status: correct, incorrect, unparseable or timeout.
        gold: the reference answer as compared (a box or ``#### N`` already removed).
        extraction: how the answer was found in the prediction (``answer`` is None if not).
        detail: the rule that decided, e.g. ``identical``, ``numeric``, ``symbolic``,
            ``text``, ``choice``, ``no answer found``, ``timed out after 5.0 s``.
        cached: True when the verdict came from the cache rather than a fresh comparison.
    """

    status: Status
    gold: str
    extraction: Extraction
    detail: str
    cached: bool = False

    @property
    def correct(self) -> bool:
        """True when the status is ``correct``."""
        return self.status is Status.CORRECT

    @property
    def answer(self) -> str | None:
        """The answer extracted from the prediction, or None."""
        return self.extraction.answer

    @property
    def unparseable_reason(self) -> str | None:
        """For an unparseable grade, which step failed, in a few words (None otherwise).

        ``no answer found``, ``box never closed``, ``empty prediction``, ``reference not
        readable``, or what went wrong with the answer a method found: ``boxed answer not
        readable as math``, ``final-answer line has no number``, ...
        """
        if self.status is not Status.UNPARSEABLE:
            return None
        if self.extraction.answer is None:
            return _NO_ANSWER_REASONS.get(self.extraction.reason, "no answer found")
        if self.detail.startswith("reference"):
            return "reference not readable"
        where = _METHOD_NAMES.get(self.extraction.method, self.extraction.method)
        for start, problem in _ANSWER_PROBLEMS:
            if self.detail.startswith(start):
                return f"{where} {problem}"
        return f"{where} not readable as math"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (status as its string value)."""
        data = asdict(self)
        data["status"] = self.status.value
        return data


_NO_ANSWER_REASONS = {
    "empty text": "empty prediction",
    "unclosed box": "box never closed",
    "no answer marker": "no answer found",
}
_METHOD_NAMES = {
    "boxed": "boxed answer",
    "gsm8k_hash": "#### answer",
    "final_answer": "final-answer line",
    "choice": "option answer",
    "whole": "whole-text answer",
    "sentence": "answer sentence",
    "conclusion": "concluding sentence",
    "last_number": "last number",
}
_ANSWER_PROBLEMS = (
    ("empty answer", "empty after clean-up"),
    ("no number", "has no number"),
    ("no option letter", "names no option letter"),
    ("answer longer", "too long to parse"),
)
