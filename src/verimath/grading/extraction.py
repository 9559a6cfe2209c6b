"""Finding the final answer in a model's text.

The methods, tried in this order (the first that finds something wins):

``boxed``        the last ``\\boxed{}``, ``\\fbox{}`` or ``\\framebox{}`` (nested braces are
                 matched; boxes right next to each other, e.g. ``\\boxed{2} and \\boxed{3}``,
                 are joined with commas).
``gsm8k_hash``   the last ``#### N`` line, as in GSM8K reference solutions.
``final_answer`` "final answer is X", "the answer is X", a line starting "Answer: X" (and,
                 outside multiple-choice datasets, "A: X" as in OpenAI's GSM8K samples).
``choice``       multiple-choice datasets only: an option letter ("(B)", "answer is B").
``whole``        the whole text, when it is one short line and not a sentence (an answer
                 already extracted, as other harnesses store it).
``last_number``  only where the dataset's answers are numbers and the caller allows it: the
                 last number in the text. Such extractions carry ``fallback=True``.

Every scan is linear in the length of the text, so hostile input cannot stall the caller.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from verimath.grading.rules import AnswerKind, DatasetRules, rules_for

__all__ = ["Extraction", "boxed_contents", "extract_answer", "find_boxed", "reference_answer"]

WHOLE_MAX_CHARS = 300
"""Longest single-line text that the ``whole`` method takes as an answer by itself."""
WHOLE_MAX_WORDS = 6
"""More words than this (formula words aside) make a sentence, not an answer."""

_MATH_WORD_LIST = (
    "sqrt pi sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh log ln lg exp "
    "inf infty infinity oo and or pm mp frac dfrac cdot times div le ge leq geq ne neq in "
    "cup cap emptyset mod bmod pmod gcd lcm max min det text mbox mathrm boxed begin end "
    "matrix pmatrix bmatrix vmatrix array cases aligned"
)
MATH_WORDS = frozenset(_MATH_WORD_LIST.split())
"""Words that are mathematics, never a unit or prose."""

_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox|framebox)(?![A-Za-z])")
_BOX_JOINER = re.compile(r"^(?:\s|\$|,|;|\\quad|\\qquad|\\text\{\s*(?:and|or)\s*\}|and|or)*$")
_HASH_LINE = re.compile(r"####[ \t]*([^\n]*)")
_FINAL_ANSWER = re.compile(r"final answer\s*(?:is|:)\s*:?|the answer is\s*:?", re.IGNORECASE)
_ANSWER_LINE = re.compile(r"^[ \t*#]*answer[ \t*]*:[ \t*]*", re.IGNORECASE | re.MULTILINE)
_A_LINE = re.compile(r"^[ \t]*A:[ \t]*", re.MULTILINE)
_HOPE_SUFFIX = re.compile(r"\s*I hope it is correct.*$", re.IGNORECASE | re.DOTALL)
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n")
_INLINE_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$]+)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_LAST_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_CHOICE_DECOR = re.compile(r"^[\s$*(\[{]*(?:\\text(?:bf)?\{)?[\s(]*")


@dataclass(frozen=True)
class Extraction:
    """The answer found in a text, and how it was found.

    Attributes:
        answer: the answer text, or None when no answer was found.
        method: ``boxed``, ``gsm8k_hash``, ``final_answer``, ``choice``, ``whole``,
            ``last_number``, or ``none``.
        fallback: True when the answer came from a fallback (the last number of the
            text, or the last parenthesised option letter) rather than an explicit marker.
    """

    answer: str | None
    method: str
    fallback: bool = False


NO_ANSWER = Extraction(None, "none")


def extract_answer(
    text: str | None,
    dataset: str | DatasetRules | None = None,
    *,
    allow_fallback: bool = True,
    join_boxes: bool = True,
) -> Extraction:
    """Find the final answer in ``text`` using the rules of ``dataset``.

    ``allow_fallback=False`` turns the last-number fallback off even where the dataset
    allows it (the grader does so when a reference answer is not a number).
    ``join_boxes=False`` takes the last box alone even when boxes stand side by side (the
    grader does so when the reference is not a list: MATH's own solutions sometimes box a
    second, equally valid answer next to the one the reference keeps).
    """
    if text is None or not text.strip():
        return NO_ANSWER
    rules = dataset if isinstance(dataset, DatasetRules) else rules_for(dataset)
    choice = rules.kind is AnswerKind.CHOICE
    boxed = _boxed(text, join_boxes)
    if boxed is not None:
        return boxed
    for finder in (_hash, _final_answer):
        found = finder(text, choice)
        if found is not None:
            return found
    if choice:
        return _choice(text, rules.choices)
    whole = _whole(text)
    if whole is not None and _is_short_answer(whole):
        return Extraction(whole, "whole")
    if rules.last_number_fallback and allow_fallback:
        numbers = _LAST_NUMBER.findall(text)
        if numbers:
            return Extraction(numbers[-1], "last_number", fallback=True)
    return NO_ANSWER


def reference_answer(gold: str, rules: DatasetRules) -> str:
    """The answer part of a reference: a box or ``#### N`` is unwrapped, else all of it.

    For multiple-choice datasets a bare integer is read as a 0-based option index (the
    MMLU data files store answers that way) and turned into its letter.
    """
    text = gold.strip()
    if rules.kind is AnswerKind.CHOICE and text.isdigit() and int(text) < len(rules.choices):
        return rules.choices[int(text)]
    found = _boxed(text, True) or _hash(text, False)
    return found.answer if found is not None and found.answer is not None else text


def find_boxed(text: str, *, join: bool = True) -> str | None:
    """The content of the last box in ``text`` (with ``join``, adjacent boxes joined by
    commas: ``\\boxed{2} and \\boxed{3}`` gives ``2, 3``), or None."""
    boxes = _balanced_boxes(text)
    if not boxes:
        return None
    start, open_at, close_at = boxes[-1]
    parts = [text[open_at + 1 : close_at].strip()]
    for prev_start, prev_open, prev_close in reversed(boxes[:-1] if join else []):
        if not _BOX_JOINER.match(text[prev_close + 1 : start]):
            break
        content = text[prev_open + 1 : prev_close].strip()
        if content != parts[-1]:
            parts.append(content)
        start = prev_start
    return ", ".join(reversed(parts))


def boxed_contents(text: str) -> list[str]:
    """The content of every closed, outermost box in ``text``, in order, as written."""
    return [text[open_at + 1 : close_at] for _, open_at, close_at in _balanced_boxes(text)]


def _balanced_boxes(text: str) -> list[tuple[int, int, int]]:
    """(command start, opening brace, closing brace) of every closed, outermost box."""
    commands = list(_BOX_COMMAND.finditer(text))
    if not commands:
        return []
    # Braces before the first box cannot belong to a box, so the scan starts there.
    closing = _matching_braces(text, commands[0].start())
    boxes: list[tuple[int, int, int]] = []
    for match in commands:
        open_at = match.end()
        while open_at < len(text) and text[open_at] == " ":
            open_at += 1
        close_at = closing.get(open_at)
        if close_at is None:
            continue
        if boxes and boxes[-1][2] > close_at:  # nested inside the previous box
            continue
        boxes.append((match.start(), open_at, close_at))
    return boxes


def _matching_braces(text: str, start: int = 0) -> dict[int, int]:
    """Map each grouping ``{`` to its ``}`` in one pass; ``\\{`` and ``\\}`` do not group."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    escaped = False
    for i in range(start, len(text)):
        char = text[i]
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "{":
            stack.append(i)
        elif char == "}" and stack:
            pairs[stack.pop()] = i
    return pairs


def _boxed(text: str, join: bool) -> Extraction | None:
    if "box" not in text:
        return None
    content = find_boxed(text, join=join)
    if content is None:
        return None
    return Extraction(content, "boxed")


def _hash(text: str, choice: bool) -> Extraction | None:
    if "####" not in text:
        return None
    matches = _HASH_LINE.findall(text)
    answer = matches[-1].strip() if matches else ""
    return Extraction(answer, "gsm8k_hash") if answer else None


def _final_answer(text: str, choice: bool) -> Extraction | None:
    starts = [m.end() for m in _FINAL_ANSWER.finditer(text)]
    starts += [m.end() for m in _ANSWER_LINE.finditer(text)]
    if not choice:
        starts += [m.end() for m in _A_LINE.finditer(text)]
    if not starts:
        return None
    answer = _answer_after(text[max(starts) :])
    return Extraction(answer, "final_answer") if answer else None


def _answer_after(rest: str) -> str:
    """The answer that follows an "answer is" marker: its math span, else its sentence."""
    rest = _HOPE_SUFFIX.sub("", rest).lstrip()
    math = _INLINE_MATH.match(rest)
    if math is not None:
        return next(group for group in math.groups() if group is not None).strip()
    end = _SENTENCE_END.search(rest)
    return (rest[: end.start()] if end else rest).strip().rstrip(".").strip()


def _choice(text: str, letters: str) -> Extraction:
    whole = _whole(text)
    if whole is not None and choice_letter(whole, letters) is not None:
        return Extraction(whole, "choice")
    pattern = re.compile(rf"\(([{letters}])\)|\b([{letters}])\)")
    found = [m.group(1) or m.group(2) for m in pattern.finditer(text)]
    if found:
        return Extraction(found[-1], "choice", fallback=True)
    return NO_ANSWER


def choice_letter(answer: str, letters: str) -> str | None:
    """The option letter an answer names ("B", "(B)", "\\text{(B)} 42", "B. 42"), or None."""
    rest = _CHOICE_DECOR.sub("", answer, count=1)
    if not rest or rest[0].upper() not in letters:
        return None
    if len(rest) > 1 and (rest[1].isalnum() or rest[0].islower()):
        return None
    return rest[0].upper()


def _whole(text: str) -> str | None:
    stripped = text.strip()
    if len(stripped) > WHOLE_MAX_CHARS or "\n" in stripped:
        return None
    return stripped


_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_FIRST_DIGIT = re.compile(r"\d")


def _is_short_answer(text: str) -> bool:
    """An answer by itself, not a sentence: a few words, and no phrase before a number.

    ``$18``, ``18 dollars``, ``ab+2a+5b+10``, ``sqrt(2)/2``, ``Mrs. Hilt``, ``Chicken
    finger`` are answers; ``The total is 18`` and ``We find that it equals x`` are not.
    """
    words = [m for m in _WORD.finditer(text) if m.group().lower() not in MATH_WORDS]
    if len(words) > WHOLE_MAX_WORDS:
        return False
    digit = _FIRST_DIGIT.search(text)
    if digit is None:
        return True
    before = [m for m in words if m.end() <= digit.start()]
    return not any(
        not text[first.end() : second.start()].strip()
        for first, second in itertools.pairwise(before)
    )
