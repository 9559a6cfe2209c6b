"""Finding the final answer in a model's text.

The methods, tried in this order (the first that finds something wins):

``boxed``        the last ``\\boxed{}``, ``\\fbox{}`` or ``\\framebox{}`` (nested braces are
                 matched; boxes right next to each other, e.g. ``\\boxed{2} and \\boxed{3}``
                 or ``\\(\\boxed{2}\\) and \\(\\boxed{3}\\)``, are joined with commas, and
                 against a list reference of n items a text of exactly n boxes gives all).
``gsm8k_hash``   the last ``#### N`` line, as in GSM8K reference solutions.
``final_answer`` "final answer is X", "the answer is X", a line starting "Answer: X" or
                 "Answer $X$" (and, outside multiple-choice datasets, "A: X" as in OpenAI's
                 GSM8K samples). When X is a sentence ("The largest $n$ is 34."), the answer
                 is read from it as in ``sentence``. A Minerva-style "Final Answer: ..." line
                 written *after* the last box wins over the box (the model's last word).
``choice``       multiple-choice datasets only: an option letter ("(B)", "answer is B", "the
                 correct answer is B", "The answer: B, ...", "I think it's B").
``whole``        the whole text, when it is one short line and not a sentence (an answer
                 already extracted, as other harnesses store it).
``sentence``     the whole text is one line that is a sentence: what follows its last
                 "is"/"are"/"equals" when that is an answer, else its last math span
                 (``Therefore $x \\geq 5$ is the solution.``, ``The identity matrix is $...$.``).
``conclusion``   the text's last sentence starts with "Therefore", "Thus", "Hence", "So" or
                 "In conclusion": the answer is read from it as in ``sentence``, or it is the
                 one number that sentence holds ("Therefore, there are 12 ways.").
``last_number``  only where the dataset's answers are numbers and the caller allows it: the
                 last number in the text. Such extractions carry ``fallback=True``.

Before any method, chat-template debris that a model wrote after its answer is cut off
(``<|im_start|>user ...``, ``<|im_end|>``, ``<|endoftext|>``, ``</s>`` and the like).
Every scan is linear in the length of the text, so hostile input cannot stall the caller.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
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
_BARE_BOX = re.compile(r"\\boxed[ \t]+([^\s${}\\]+)")
_JOINER_MAX_CHARS = 80
"""Longest text between two boxes that can still join them."""
_BOX_JOINER = re.compile(
    r"^(?:\s|\$|,|;|\.|\\[()\[\]]|\\q?quad|\\text\{\s*(?:and|or)\s*\}|and|or"
    r"|[A-Za-z](?:_\{?\w+\}?)?\s*=|\(?[a-h]\)|\\text\{\s*\(?[a-h]\)\s*\})*$"
)
"""What may stand between two boxes that are parts of one answer: math delimiters
(``\\(\\boxed{1}\\) and \\(\\boxed{-2}\\)``), "and"/"or", commas, a name being assigned
(``x = \\boxed{1}, y = \\boxed{2}``) or a part label (``(a) \\boxed{3} (b) \\boxed{5}``)."""
_HASH_LINE = re.compile(r"####[ \t]*([^\n]*)")
_FINAL_ANSWER = re.compile(r"final answer\s*(?:is|:)\s*:?|the answer is\s*:?", re.IGNORECASE)
_MINERVA_FINAL = re.compile(r"final answer\s*(?:is|:)\s*:?", re.IGNORECASE)
_ANSWER_LINE = re.compile(
    r"^[ \t*#]*(?:final[ \t]+)?answer(?:[ \t*]*:|[ \t]+(?=\$|\\\(|\\\[))[ \t*]*",
    re.IGNORECASE | re.MULTILINE,
)
_ANSWER_HEADING = re.compile(
    r"^[ \t#*]*(?:final[ \t]+)?answer[ \t*:]*\n", re.IGNORECASE | re.MULTILINE
)
_A_LINE = re.compile(r"^[ \t]*A:[ \t]*", re.MULTILINE)
_HOPE_SUFFIX = re.compile(r"\s*I hope it is correct.*$", re.IGNORECASE | re.DOTALL)
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n")
# Inline math stays on one line; display math ($$..$$, \[..\]) may span lines.
_INLINE_MATH = re.compile(
    r"\$\$(.+?)\$\$|(?<!\\)\$((?:\\\$|[^$\n])+?)(?<!\\)\$|\\\(([^\n]+?)\\\)|\\\[(.+?)\\\]",
    re.DOTALL,
)
_LAST_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_SENTENCE_NUMBER = re.compile(
    r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?:\s*\\?%)?(?![\w.]\w)"
)
_CHOICE_DECOR = re.compile(r"^[\s$*(\[{]*(?:\\text(?:bf)?\{)?[\s(]*")
_CHAT_DEBRIS = re.compile(
    r"<\|(?:im_start|im_end|endoftext|end_of_text|eot_id|start_header_id|end_header_id|eom_id"
    r"|end|user|assistant|system)\|>|</s>|<｜end▁of▁sentence｜>|<\|end▁of▁sentence\|>"
)
_COPULA = re.compile(
    r"(?<![\w\\])(?:is|are|was|were|equals|be|becomes|it's|it is)(?![\w])(?:\s+equal\s+to)?"
    r"(?:\s+(?:about|approximately|exactly))?\s*:?",
    re.IGNORECASE,
)
_CONCLUSION = re.compile(
    r"(?<![\w])(?:Therefore|Thus|Hence|So|In conclusion|In total|Altogether|Finally)\b[,:]?",
)
_TEXT_COMMAND = re.compile(r"\\(?:text|mbox|textnormal|mathrm|operatorname)\s*\{[^{}]*\}")
_CURRENCY_BEFORE_NUMBER = re.compile(r"^\\?\$(?=\s*\d[\d,.]*\s*$)")
_SENTENCE_BREAK = re.compile(r"[.!?]\s+(?=[A-Z])")
_PHRASE_WORD_LIST = (
    "the an of after before all so because since for on at to from with by which that this "
    "it we you they is are was were be if then than when while not but also just only"
)
_PHRASE_WORDS = frozenset(_PHRASE_WORD_LIST.split())
CONCLUSION_MAX_CHARS = 400
"""Longest final sentence that the ``conclusion`` method reads an answer from."""


@dataclass(frozen=True)
class Extraction:
    """The answer found in a text, and how it was found.

    Attributes:
        answer: the answer text, or None when no answer was found.
        method: ``boxed``, ``gsm8k_hash``, ``final_answer``, ``choice``, ``whole``,
            ``last_number``, or ``none``.
        fallback: True when the answer came from a fallback (the last number of the
            text, or the last parenthesised option letter) rather than an explicit marker.
        reason: when no answer was found, why (for reports of unparseable predictions).
    """

    answer: str | None
    method: str
    fallback: bool = False
    reason: str = ""


NO_ANSWER = Extraction(None, "none", reason="no answer marker")
EMPTY_TEXT = Extraction(None, "none", reason="empty text")
UNCLOSED_BOX = Extraction(None, "none", reason="unclosed box")


def extract_answer(
    text: str | None,
    dataset: str | DatasetRules | None = None,
    *,
    allow_fallback: bool = True,
    join_boxes: bool = True,
    parts: int = 0,
) -> Extraction:
    """Find the final answer in ``text`` using the rules of ``dataset``.

    ``allow_fallback=False`` turns the last-number fallback off even where the dataset
    allows it (the grader does so when a reference answer is not a number).
    ``join_boxes=False`` takes the last box alone even when boxes stand side by side (the
    grader does so when the reference is not a list: MATH's own solutions sometimes box a
    second, equally valid answer next to the one the reference keeps).
    ``parts`` is the number of items of a list reference: a text with exactly that many
    boxes, apart from each other, gives them all as its answer (an answer given in parts).
    """
    if text is None or not text.strip():
        return EMPTY_TEXT
    text = without_chat_debris(text)
    rules = dataset if isinstance(dataset, DatasetRules) else rules_for(dataset)
    choice = rules.kind is AnswerKind.CHOICE
    boxed = _boxed(text, join_boxes, parts)
    if boxed is not None:
        return boxed
    for finder in (_hash, _final_answer):
        found = finder(text, choice)
        if found is not None:
            return found
    if choice:
        return _choice(text, rules.choices)
    unclosed = "box" in text and _BOX_COMMAND.search(text) is not None
    found = None if unclosed else _unmarked(text)
    if found is not None:
        return found
    if rules.last_number_fallback and allow_fallback:
        numbers = _LAST_NUMBER.findall(text)
        if numbers:
            return Extraction(numbers[-1], "last_number", fallback=True)
    return UNCLOSED_BOX if unclosed else NO_ANSWER


def _unmarked(text: str) -> Extraction | None:
    """An answer without a marker: the whole short text, a concluding sentence, or a
    one-line sentence that states it."""
    whole = _whole(text)
    if whole is not None and _is_short_answer(whole) and not _is_prose_around_math(whole):
        return Extraction(whole, "whole")
    concluded = _conclusion(text)
    if concluded is not None:
        return concluded
    if whole is not None and _one_sentence(whole):
        answer = sentence_answer(whole, one_number=False)
        if answer is not None:
            return Extraction(answer, "sentence")
    return None


def reference_answer(gold: str, rules: DatasetRules) -> str:
    """The answer part of a reference: a box or ``#### N`` is unwrapped, else all of it.

    For multiple-choice datasets a bare integer is read as a 0-based option index (the
    MMLU data files store answers that way) and turned into its letter. A reference that
    is a whole worked solution without a box ("... Final Answer: The final answer is
    $28\\%$. I hope it is correct.") gives the answer its final-answer line names.
    """
    text = gold.strip()
    if rules.kind is AnswerKind.CHOICE and text.isdigit() and int(text) < len(rules.choices):
        return rules.choices[int(text)]
    found = _boxed(text, True) or _hash(text, False)
    if found is None and ("\n" in text or not _is_short_answer(text)):
        found = _final_answer(without_chat_debris(text), False)
    return found.answer if found is not None and found.answer is not None else text


def find_boxed(text: str, *, join: bool = True) -> str | None:
    """The content of the last box in ``text`` (with ``join``, adjacent boxes joined by
    commas: ``\\boxed{2} and \\boxed{3}`` gives ``2, 3``), or None.

    A box without braces (``\\boxed 5``) counts when the text has no braced box.
    """
    located = _last_box(text, join=join)
    return None if located is None else located[0]


def without_chat_debris(text: str) -> str:
    """``text`` up to the first chat-template token written after some content.

    A model that runs past its turn writes ``<|im_start|>user`` and a new conversation;
    only what came before is its answer. A text that *starts* with such tokens (a whole
    transcript) is left as it is.
    """
    if "<" not in text:
        return text
    for match in _CHAT_DEBRIS.finditer(text):
        if text[: match.start()].strip():
            return text[: match.start()]
    return text


def _last_box(text: str, *, join: bool, parts: int = 0) -> tuple[str, int] | None:
    """The last box's content (joined with adjacent boxes) and the index where it ends.

    With ``join`` and a list reference of ``parts`` items: a text with exactly that many
    boxes of one item each, which the adjacent boxes do not cover, gives them all.
    """
    boxes = _balanced_boxes(text)
    if not boxes:
        bare = list(_BARE_BOX.finditer(text))
        if not bare:
            return None
        return bare[-1].group(1).rstrip(".,;"), bare[-1].end()
    start, open_at, close_at = boxes[-1]
    found = [text[open_at + 1 : close_at].strip()]
    for prev_start, prev_open, prev_close in reversed(boxes[:-1] if join else []):
        between = text[prev_close + 1 : start]
        if len(between) > _JOINER_MAX_CHARS or not _BOX_JOINER.match(between):
            break
        content = text[prev_open + 1 : prev_close].strip()
        if content != found[-1]:
            found.append(content)
        start = prev_start
    if join and len(found) < parts == len(boxes):
        contents = [text[o + 1 : c].strip() for _, o, c in boxes]
        if not any("," in content for content in contents):
            return ", ".join(contents), close_at + 1
    return ", ".join(reversed(found)), close_at + 1


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


def _boxed(text: str, join: bool, parts: int = 0) -> Extraction | None:
    if "box" not in text:
        return None
    located = _last_box(text, join=join, parts=parts)
    if located is None:
        return None
    content, end = located
    later = _minerva_after(text, end)
    return later if later is not None else Extraction(content, "boxed")


def _minerva_after(text: str, end: int) -> Extraction | None:
    """A "Final Answer: ..." line after the last box, when it names an answer."""
    rest = text[end:]
    if "inal answer" not in rest and "INAL ANSWER" not in rest:
        return None
    starts = [m.end() for m in _MINERVA_FINAL.finditer(rest)]
    if not starts:
        return None
    answer = _answer_after(rest[max(starts) :])
    if not answer or not any(c.isdigit() or c == "\\" for c in answer):
        return None
    return Extraction(answer, "final_answer")


def _hash(text: str, choice: bool) -> Extraction | None:
    if "####" not in text:
        return None
    matches = _HASH_LINE.findall(text)
    answer = matches[-1].strip() if matches else ""
    return Extraction(answer, "gsm8k_hash") if answer else None


def _final_answer(text: str, choice: bool) -> Extraction | None:
    starts = [m.end() for m in _FINAL_ANSWER.finditer(text)]
    starts += [m.end() for m in _ANSWER_LINE.finditer(text)]
    starts += [m.end() for m in _ANSWER_HEADING.finditer(text)]
    if not choice:
        starts += [m.end() for m in _A_LINE.finditer(text)]
    if not starts:
        return None
    answer = _answer_after(text[max(starts) :], choice)
    return Extraction(answer, "final_answer") if answer else None


def _answer_after(rest: str, choice: bool = False) -> str:
    """The answer that follows an "answer is" marker: its math span, else its sentence
    (read as in ``sentence_answer`` when it is a sentence rather than an answer)."""
    rest = _HOPE_SUFFIX.sub("", rest).lstrip()
    math = _INLINE_MATH.match(rest)
    if math is not None:
        return _span(math)
    if rest[:1] in '"“':
        closing = rest.find("”" if rest[0] == "“" else '"', 1)
        if closing > 1:
            return rest[1:closing].strip()
    end = _SENTENCE_END.search(rest)
    answer = (rest[: end.start()] if end else rest).strip().rstrip(".").strip()
    if choice or not answer or (_is_short_answer(answer) and not _is_prose_around_math(answer)):
        return answer
    found = sentence_answer(answer, one_number=True)
    return found if found is not None else answer


def sentence_answer(sentence: str, *, one_number: bool) -> str | None:
    """The answer a sentence states, or None.

    What follows the sentence's last "is"/"are"/"equals", when that is an answer by
    itself or a math span; else the sentence's last math span; else, with ``one_number``,
    the only number in it ("there are 12 ways"). ``The largest $n$ is 34`` gives ``34``,
    ``Therefore $x \\geq 5$ is the solution`` gives ``x \\geq 5``.
    """
    sentence = sentence.strip().rstrip(".").strip()
    if len(sentence) > CONCLUSION_MAX_CHARS:
        return None
    copulas = [m for m in _COPULA.finditer(sentence) if not _inside_math(sentence, m.start())]
    if copulas:
        rest = sentence[copulas[-1].end() :].strip().rstrip(".,;").strip()
        spans = _math_spans(rest)
        if spans and not rest[: spans[0].start()].strip(" :"):
            return _span(spans[0])
        if _is_stated_value(rest):
            return rest
        if spans:
            return _span(spans[-1])
    spans = _math_spans(sentence)
    if spans:
        return _span(spans[-1])
    if one_number:
        numbers = [m.group() for m in _SENTENCE_NUMBER.finditer(sentence)]
        if len(numbers) == 1:
            return numbers[0].strip()
    return None


def _conclusion(text: str) -> Extraction | None:
    """The answer of a final sentence that starts with "Therefore", "Thus", "So", ..."""
    tail = _HOPE_SUFFIX.sub("", text[-4 * CONCLUSION_MAX_CHARS :]).rstrip()
    starts = list(_CONCLUSION.finditer(tail))
    if not starts:
        return None
    sentence = tail[starts[-1].end() :].strip()
    if not sentence or len(sentence) > CONCLUSION_MAX_CHARS or "\n\n" in sentence:
        return None
    if not _one_sentence(sentence):
        return None
    answer = sentence_answer(sentence, one_number=True)
    return Extraction(answer, "conclusion") if answer else None


def _math_spans(text: str) -> list[re.Match[str]]:
    """The math spans of ``text``, without "spans" between two dollar amounts
    (``$2 each, so she makes $``): math holds no run of prose words."""
    return [m for m in _INLINE_MATH.finditer(text) if not _is_prose(_span(m))]


def _is_prose(text: str) -> bool:
    words = [m.group().lower() for m in _words(_TEXT_COMMAND.sub("", text))]
    return sum(word not in MATH_WORDS for word in words) >= 2


def _one_sentence(text: str) -> bool:
    """No sentence ends inside ``text`` (outside its math spans)."""
    outside = _INLINE_MATH.sub("M", text).rstrip(" .!")
    return _SENTENCE_BREAK.search(outside) is None


def _span(match: re.Match[str]) -> str:
    return next(group for group in match.groups() if group is not None).strip()


def _inside_math(text: str, index: int) -> bool:
    return any(m.start() < index < m.end() for m in _math_spans(text))


def _is_stated_value(text: str) -> bool:
    """A value as a sentence states it: ``18``, ``1,000.99€``, ``19 points``, not ``5 after
    all the work`` (a phrase, not a unit)."""
    text = _CURRENCY_BEFORE_NUMBER.sub("", text)
    if not text or "$" in text or not any(c.isdigit() or c == "\\" for c in text):
        return False
    words = [m.group().lower() for m in _words(text)]
    if any(word in _PHRASE_WORDS for word in words):
        return False
    return _is_short_answer(text) and len([w for w in words if w not in MATH_WORDS]) <= 3


def _is_prose_around_math(text: str) -> bool:
    """A math span with words outside it: ``Answer \\( 9 \\)``, ``The sum is $x$``."""
    if "$" not in text and "\\(" not in text and "\\[" not in text:
        return False
    outside = _INLINE_MATH.sub(" ", text)
    if outside == text:
        return False
    return any(m.group().lower() not in MATH_WORDS for m in _words(outside))


def _choice(text: str, letters: str) -> Extraction:
    whole = _whole(text)
    if whole is not None and choice_letter(whole, letters) is not None:
        return Extraction(whole, "choice")
    stated = [m.group(1) or m.group(2) for m in _choice_phrases(letters).finditer(text)]
    if stated:
        return Extraction(stated[-1], "choice")
    pattern = re.compile(rf"\(([{letters}])\)|\b([{letters}])\)")
    found = [m.group(1) or m.group(2) for m in pattern.finditer(text)]
    if found:
        return Extraction(found[-1], "choice", fallback=True)
    return NO_ANSWER


@functools.lru_cache(maxsize=8)
def _choice_phrases(letters: str) -> re.Pattern[str]:
    """Sentences that name an option: "the correct answer is C", "The answer: D, ...",
    "My answer: B", "I think it's B", "I'd go with (A)". The letter is a capital."""
    letter = rf"\(?([{letters}])\)?"
    return re.compile(
        r"(?i:\b(?:answer|option|choice)\s*(?:(?:is|would be|should be|must be|will be)\s*:?|:)"
        rf"\s*(?:option\s+|choice\s+)?){letter}(?![\w'])"
        r"|(?i:\b(?:it's|it is|I'd say|I think|I believe|I choose|I pick|I select|go with)"
        rf"\s+(?:option\s+|choice\s+)?){letter}(?=\s*(?:[.,;:!)]|$))",
        re.MULTILINE,
    )


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


_WORD = re.compile(
    r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]"
    r"|(?<!\\)(?<![^\W\d_])(?:[^\W\d_][\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0900-\u0dff]*){2,}"
)
"""A word in any script: a run of two or more letters (with their combining marks), or one
Chinese, Japanese or Korean character (those scripts do not put spaces between words)."""
_ASCII_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
"""The same for ASCII text, which most answers are (and which it scans faster)."""


def _words(text: str) -> Iterator[re.Match[str]]:
    return (_ASCII_WORD if text.isascii() else _WORD).finditer(text)


_FIRST_DIGIT = re.compile(r"\d")


def _is_short_answer(text: str) -> bool:
    """An answer by itself, not a sentence: a few words, and no phrase before a number.

    ``$18``, ``18 dollars``, ``ab+2a+5b+10``, ``sqrt(2)/2``, ``Mrs. Hilt``, ``Chicken
    finger`` are answers; ``The total is 18`` and ``We find that it equals x`` are not.
    """
    words = [m for m in _words(text) if m.group().lower() not in MATH_WORDS]
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
