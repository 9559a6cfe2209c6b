"""Turning an extracted answer into the canonical string that is compared.

Normalisation only removes notation that cannot change the value: math delimiters, Markdown
emphasis, spacing commands, ``\\left``/``\\right``, ``\\dfrac``, a trailing unit, a degree
sign, a percent sign, a currency sign, thousands separators. It never rewrites mathematics
(no ``2 \\cdot 10^3`` -> ``210^3``). All patterns are linear-time, since they run on model
text in the main process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verimath.grading.extraction import MATH_WORDS, choice_letter
from verimath.grading.rules import AnswerKind, DatasetRules

__all__ = [
    "Answer",
    "align_assignments",
    "is_list",
    "list_size",
    "normalize_answer",
    "strip_unit",
    "text_key",
]

MAX_NORMALIZE_CHARS = 5000
"""Answers longer than this are compared as plain text only."""


_UNWRAPPERS = (
    re.compile(r"^\$\$(.*)\$\$$", re.DOTALL),
    re.compile(r"^\$([^$]*)\$$", re.DOTALL),
    re.compile(r"^\\\((.*)\\\)$", re.DOTALL),
    re.compile(r"^\\\[(.*)\\\]$", re.DOTALL),
    re.compile(r"^\*\*(.*)\*\*$", re.DOTALL),
    re.compile(r"^`([^`]*)`$"),
    re.compile(r"^\\(?:boxed|fbox|framebox|textbf|mathbf|boldsymbol|bm)\{(.*)\}$", re.DOTALL),
    re.compile(r"^\{(.*)\}$", re.DOTALL),
)
_DOUBLED_COMMAND = re.compile(
    r"(?<!\\)\\\\(?=(?:[dtc]?frac|sqrt|left|right|pi|cdot|times|div|le|ge|leq|geq|lt|gt|ne|neq"
    r"|infty|text|textnormal|mathrm|mbox|boxed|in|cup|cap|circ|pm|mp|begin|end|sin|cos|tan"
    r"|log|ln|mathbf|emptyset|varnothing|approx)(?![A-Za-z]))"
)
_RELATION = re.compile(
    r">=|<=|(?<![\d)!])!=|\\not\s*="
    r"|\\(?:geqslant|leqslant|geq|leq|neq|ge|le|ne|lt|gt)(?![A-Za-z])"
)
_RELATION_SPELLING = {">=": "\\ge ", "<=": "\\le ", "!=": "\\ne "}
_RELATION_COMMAND = {
    "geqslant": "\\ge ",
    "leqslant": "\\le ",
    "geq": "\\ge ",
    "leq": "\\le ",
    "neq": "\\ne ",
    "ge": "\\ge ",
    "le": "\\le ",
    "ne": "\\ne ",
    "lt": "<",
    "gt": ">",
}
_THOUSANDS_MARKED = re.compile(
    r"(?<=\d)(?:\s*,\\!\s*|\s*\{\s*,\s*\}\s*|\\,|\\;|\\ )(?=\d{3}(?!\d))"
)
_GLUED_SQUARE_UNIT = re.compile(
    r"(?<=\d)\s*[A-Za-z]{1,3}[²³]$"
    r"|(?<=\d)(?:cm|mm|km|kg|mg|ml|mL|ft|yd|mph|hrs?|mins?|secs?)(?:\^\{?[23]\}?)?$"
)
_SPACED_THOUSANDS = re.compile(r"^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$")
_INNER_DOLLAR = re.compile(r"(?<!\\)\$")
_LIST_WORD = re.compile(
    r"\s*,?\s*(?:\\(?:text|mbox|textnormal|mathrm)\s*\{\s*,?\s*(?:and|or)\s*\}|(?<![A-Za-z\\])"
    r"(?:and|or)(?![A-Za-z]))\s*"
)
_APPROX = re.compile(r"\\approx(?![A-Za-z])|≈")
_MATRIX_ENV = re.compile(r"\\(begin|end)\{(?:bmatrix|Bmatrix|matrix|smallmatrix)\}")
_ARRAY_MATRIX = re.compile(
    r"^[(\[]?\s*\\begin\{array\}\s*\{[^{}]*\}(.*)\\end\{array\}\s*[)\]]?$", re.DOTALL
)
_WRAPPED_MATRIX = re.compile(r"[(\[]\s*(\\begin\{pmatrix\}.*\\end\{pmatrix\})\s*[)\]]", re.DOTALL)
_MIXED_NUMBER = re.compile(r"^(-?)(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}$|^(-?)(\d+) (\d+)/(\d+)$")
_WRAPPER_STARTS = "$\\*`{"
_SPACING = re.compile(
    r"\\(?:left|right|big|Big|bigg|Bigg)(?=[^A-Za-z])|\\(?:[!,;:]|displaystyle|textstyle)|~"
    r"|\\q?quad(?![A-Za-z])"
)
_BACKSLASH_SPACE = re.compile(r"(?<!\\)\\ ")
_MARKDOWN_BOLD = re.compile(r"(?<![\w)])\*\*([^*]+?)\*\*(?![\w(])")
_PYTHON_POWER = re.compile(r"\*\*")
_MULTI_DIGIT_EXPONENT = re.compile(r"\^(\d{2,})")
_JUXTAPOSED_EXPONENT = re.compile(r"\^(\d)(?=\s+\d)")
_PYTHON_FUNCTION = re.compile(
    r"(?<![\\A-Za-z])(exp|ln|log|sin|cos|tan|cot|sec|csc|arcsin|arccos|arctan|sinh|cosh|tanh)"
    r"(?=\s*\()"
)
_FUNCTION_COMMAND = re.compile(
    r"\\(?:sin|cos|tan|cot|sec|csc|arcsin|arccos|arctan|sinh|cosh|tanh|exp|ln|log)(?![A-Za-z])"
)
_UNICODE_DEGREE = re.compile(r"°|\\degree(?![A-Za-z])")
_BARE_PI = re.compile(r"(?<![\\A-Za-z])pi(?![A-Za-z])")
_UNICODE_ROOT = re.compile(r"√\s*(\d+|[A-Za-z])")
_UNICODE = {
    "π": "\\pi ",
    "∞": "\\infty ",
    "×": "\\times ",
    "·": "\\cdot ",
    "−": "-",
    "–": "-",
    "≤": "\\le ",
    "≥": "\\ge ",
    "≠": "\\ne ",
    "€": "\\$",
    "£": "\\$",
    "\u00a0": " ",
}
_UNICODE_CHARS = re.compile("|".join(_UNICODE))
_FRAC_VARIANTS = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_BRACELESS_FRAC = re.compile(r"\\frac\s*(\\[A-Za-z]+|[0-9A-Za-z])\s*(\\[A-Za-z]+|[0-9A-Za-z])")
_BOLD = re.compile(r"\\(?:textbf|mathbf|boldsymbol|bm|mathit|textit|emph)\{([^{}]*)\}")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![A-Za-z])")
_PERCENT = re.compile(
    r"\s*(?:\\?%|\\(?:text|mbox|textnormal|mathrm)\{\s*(?:\\?%|percent(?:age)?|pct)\s*\}"
    r"|percent(?:age)?|pct)\s*$"
)
_CURRENCY = re.compile(r"^(-?)\s*(?:\\\$|\$|USD\s*|US\$)\s*")
_TRAILING_CURRENCY = re.compile(r"(?<=\d)\s*(?:\\\$|\$)$")
_THOUSANDS_BRACE = re.compile(r"\{,\}")
_GROUPED_IN_BRACES = re.compile(r"(?<=\{)(-?\d{1,3}(?:,\d{3})+)(?=\})")
_COMMA_NUMBER = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_TEXT_UNIT = re.compile(
    r"(?:\s|\\,|\\;)*(?:\\(?:text|mbox|mathrm|textrm|textnormal|textsf|operatorname)\s*\{([^{}]*)\}"
    r"(?:\s*\^\s*\{?\d\}?)?\s*/?\s*)$"
)
_WORD_UNIT = re.compile(
    r"(?:(?<=[\d}])|(?<=\\pi))(?:\s+|\s*[({]\s*)([A-Za-z][A-Za-z .'-]*?)\s*[)}]?\.?$"
)
_POWER_UNIT = re.compile(
    r"(?<=[\d}])\s+(cm|mm|km|dm|m|in|ft|yd|mi|units?)\s*(?:\^\s*\{?\s*[23]\s*\}?|[²³])$"
)
_SCRIPT_WORD = re.compile(r"(?:(?![A-Za-z\u0370-\u03ff])[^\W\d_])+")
"""Letters of scripts other than Latin and Greek (Greek letters are mathematics)."""
_SCRIPT_UNIT = re.compile(r"(?<=\d)\s*((?:(?![A-Za-z\u0370-\u03ff])[^\W\d_])+)\.?$")
_WHOLE_TEXT = re.compile(
    r"^\\(?:text|textrm|mbox|mathrm|textnormal|textsf)\s*\{([^{}]*)\}(?:\s*\^\s*\{?\d\}?)?$"
)
_TEXT_WRAPPER = re.compile(r"\\(?:text|textrm|mbox|mathrm|textnormal)\s*\{([^{}]*)\}")
_OPTION = re.compile(r"^\(?([A-Z])\)?$")
_TRAILING_PUNCT = re.compile(r"(?<!\\)[.,;:]+$")
_LEADING_EQUALS = re.compile(r"^=\s*")
_SPACES = re.compile(r"\s+")
_SPACE_NOT_AFTER_WORD = re.compile(r"(?<![A-Za-z]) ")
_SPACE_NOT_BEFORE_WORD = re.compile(r" (?![A-Za-z])")
_ALPHA_WORD = re.compile(r"(?<![A-Za-z0-9\\])[A-Za-z]{2,}(?![A-Za-z0-9])")
_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?\s*m\.?)?", re.IGNORECASE)
_PARENTHESISED_NUMBER = re.compile(r"^\((-?\d+(?:\.\d+)?)\)$")
_NOT_TEXT_CHAR = re.compile(r"[\\^_{}=+*/<>\[\]|]")
_NAME = r"(?:[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?(?:\^\{?\*\}?)?|\\[A-Za-z]+(?:_\{?[A-Za-z0-9]+\}?)?)"
_LABEL = (
    rf"(?:{_NAME}\([^()=]{{0,20}}\)"  # f(x), P(A), f(2)
    r"|(?:m\s*)?\\angle\s*[A-Z]{1,3}"  # \angle ABC
    r"|[A-Z]{2,4}"  # AB, ABC
    rf"|\(\s*[a-z](?:\s*,\s*[a-z])+\s*\)"  # (a,b,c)
    rf"|{_NAME}(?:\s*[:/]\s*{_NAME})?)"  # x, S_{MBCN}:S
)
_ASSIGNMENT = re.compile(rf"^({_LABEL})\s*(?:=|\\in)\s*(.+)$")
_SAME_VARIABLE_ITEM = re.compile(r"^([A-Za-z])\s*=\s*([^=]+)$")
_TEXT_PUNCT = re.compile(r"[,!?\"'`’()]")
_BASE_NUMERAL = re.compile(r"^((?=[0-9A-F]*\d)[0-9A-F]+)_\{?(\d{1,2})\}?$")
_SINGLE_LETTER_CONSTANTS = frozenset("ieEdj")


@dataclass(frozen=True)
class Answer:
    """A normalised answer.

    Attributes:
        text: the canonical form: compared, parsed by the workers and used as cache key.
        percent: a percent sign or word was removed from the end.
        is_text: a word answer ("Monday", "\\text{even}", "no solution"): compared as text
            (case-insensitive), never parsed as mathematics.
        unit: the unit removed from the end ("inches", "m"), or "".
    """

    text: str
    percent: bool = False
    is_text: bool = False
    unit: str = ""


def normalize_answer(raw: str, rules: DatasetRules) -> Answer:
    """Normalise an extracted answer (or a reference answer) under ``rules``.

    Answers longer than ``MAX_NORMALIZE_CHARS`` only have their spacing collapsed: they
    cannot be parsed anyway and are compared as text.
    """
    if len(raw) > MAX_NORMALIZE_CHARS:
        return Answer(_collapse_spaces(raw), is_text=True)
    text = _unwrap(raw.strip())
    if ":" in text:
        time = _TEXT_WRAPPER.sub(r"\1", text) if "\\" in text else text
        if _TIME_OF_DAY.fullmatch(time):  # 4:30 p.m., 4:30 \text{ p.m.}
            return Answer(_collapse_spaces(time), is_text=True)
    if rules.kind is AnswerKind.CHOICE:
        letter = choice_letter(text, rules.choices)
        return Answer(letter if letter is not None else _collapse_spaces(text))
    text = _strip_trailing_punctuation(_strip_notation(text))
    whole_text = _whole_text(text)
    if whole_text is not None and _has_digit(whole_text.group(1)):
        text = whole_text.group(1).strip()  # \text{10 apples}: a number and its unit in text
        single_letters = True
    else:
        single_letters = rules.kind is AnswerKind.NUMBER
    text, percent = _strip_percent(text)
    text, unit = _strip_units(text, single_letters=single_letters)
    text = _strip_currency(text)
    whole_text = _whole_text(text)
    if whole_text is not None:
        text = whole_text.group(1).strip()
    option = _OPTION.match(text)
    if option is not None:
        return Answer(option.group(1), percent)
    text = _canonical_number(_strip_trailing_punctuation(_LEADING_EQUALS.sub("", text)))
    if _looks_like_text(text):
        return Answer(_collapse_spaces(text), percent, is_text=True, unit=unit)
    return Answer(_canonical_spacing(text), percent, unit=unit)


def _whole_text(text: str) -> re.Match[str] | None:
    """An answer that is all text (``\\text{10 apples}``); ``\\mathrm{i}^2`` is not: it is
    the imaginary unit squared, not the word "i"."""
    match = _WHOLE_TEXT.match(text)
    if match is None or match.group(1).strip() in _SINGLE_LETTER_CONSTANTS:
        return None
    return match


def text_key(answer: Answer) -> str:
    """The form two word answers are compared in: case, punctuation and spacing ignored."""
    return _collapse_spaces(_TEXT_PUNCT.sub(" ", answer.text.replace(".", ""))).casefold()


def align_assignments(gold: Answer, pred: Answer) -> tuple[Answer, Answer]:
    """Drop an ``x =`` (or ``x \\in``) prefix where both sides name the same variable, or
    where the other side is not an equation at all.

    ``x = 3`` and ``3`` are the same answer, ``y = 3`` and ``x = 3`` are not, and
    ``y = 3x + 13`` stays an equation when compared with ``3x - y + 13 = 0``.
    """
    gold_match = _ASSIGNMENT.match(gold.text)
    pred_match = _ASSIGNMENT.match(pred.text)
    if gold_match is not None and pred_match is not None:
        if gold_match.group(1) != pred_match.group(1):
            return gold, pred
        return _without_assignment(gold, gold_match), _without_assignment(pred, pred_match)
    if gold_match is not None and not _is_relation(pred.text):
        return _without_assignment(gold, gold_match), pred
    if pred_match is not None and not _is_relation(gold.text):
        return gold, _without_assignment(pred, pred_match)
    return gold, pred


def _is_relation(text: str) -> bool:
    return "=" in text or "\\in" in text


def is_list(answer: Answer) -> bool:
    """A comma-separated list at the top level (``2,-3``, ``\\{1,2\\}``; not ``(1,2)``)."""
    return list_size(answer) > 1


def list_size(answer: Answer) -> int:
    """The number of items of a top-level comma-separated list (1 for a single answer)."""
    items = 1
    depth = 0
    escaped = False
    for char in answer.text:
        if escaped:
            escaped = False
            continue
        if char == "\\":
            escaped = True
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items += 1
    return items


def _without_assignment(answer: Answer, match: re.Match[str] | None) -> Answer:
    if match is None or "=" in match.group(2):
        return answer
    return Answer(match.group(2).strip(), answer.percent, answer.is_text, answer.unit)


def _unwrap(text: str) -> str:
    """Remove delimiters around the whole answer (``$..$``, ``**..**``, ``\\boxed{..}``)."""
    for _ in range(8):
        if not text or (text[0] not in _WRAPPER_STARTS and text[-1] not in "$)]*`}"):
            break
        before = text
        for pattern in _UNWRAPPERS:
            match = pattern.match(text)
            if match is not None and _balanced(match.group(1)):
                text = match.group(1).strip()
        if text == before:
            break
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += (char == "{") - (char == "}")
        if depth < 0:
            return False
    return depth == 0


def _strip_notation(text: str) -> str:
    # Each rewrite runs only when its trigger is in the text: this runs on every answer.
    backslash = "\\" in text
    if "\\\\" in text:
        text = _DOUBLED_COMMAND.sub(r"\\", text)
    if not text.isascii():
        text = _UNICODE_ROOT.sub(r"\\sqrt{\1}", text)
        text = _GLUED_SQUARE_UNIT.sub("", text)
        text = _UNICODE_CHARS.sub(lambda m: _UNICODE[m.group(0)], text)
        backslash = "\\" in text
    elif text[-1:].isalpha():
        text = _GLUED_SQUARE_UNIT.sub("", text)
    if "$" in text:
        text = _INNER_DOLLAR.sub("", text)
    if "*" in text:
        text = _MARKDOWN_BOLD.sub(r"\1", text)
        text = _PYTHON_POWER.sub("^", text)
    if "^" in text:
        text = _MULTI_DIGIT_EXPONENT.sub(r"^{\1}", text)
        text = _JUXTAPOSED_EXPONENT.sub(r"^{\1}", text)  # 2^6 3^5: a product, not 2^{63}
    if "(" in text:
        text = _PYTHON_FUNCTION.sub(r"\\\1", text)  # exp(16), ln(2), sin(x)
        backslash = "\\" in text
    if "pi" in text:
        text = _BARE_PI.sub(r"\\pi ", text)
    if "," in text or backslash:
        text = _THOUSANDS_MARKED.sub("", text)
    if backslash or "~" in text:
        text = _BACKSLASH_SPACE.sub(" ", text)
        text = _SPACING.sub("", text)
    if "frac" in text:
        text = _FRAC_VARIANTS.sub(r"\\frac", text)
        text = _BRACELESS_FRAC.sub(r"\\frac{\1}{\2}", text)
    if backslash:
        text = _BOLD.sub(r"\1", text)
    if "circ" in text or "°" in text or "degree" in text:
        text = _degrees(text)
    if "{" in text and "," in text:
        text = _THOUSANDS_BRACE.sub(",", text)
        text = _GROUPED_IN_BRACES.sub(lambda m: m.group(1).replace(",", ""), text)
    if "=" in text or backslash:
        text = _RELATION.sub(_relation, text)
    if "matrix" in text or "array" in text:
        text = _matrix(text)
    if "\\approx" in text or "≈" in text:
        text = _without_approximation(text)
    if ("and" in text or "or" in text) and _has_digit(text):
        text = _LIST_WORD.sub(", ", text).strip(" ,")
    if "=" in text and "," in text:
        text = _same_variable_values(text)
    return _SPACES.sub(" ", text).strip()


def _degrees(text: str) -> str:
    """A degree sign is a unit (``90^\\circ`` is ``90``), except in a function's argument:
    ``\\sin 60^\\circ`` keeps it, as ``^\\circ``, for the worker to convert to radians."""
    if _FUNCTION_COMMAND.search(text) is None:
        return _DEGREES.sub("", text)
    return _UNICODE_DEGREE.sub(lambda _: "^\\circ ", text)


def _relation(match: re.Match[str]) -> str:
    spelled = match.group()
    if spelled in _RELATION_SPELLING:
        return _RELATION_SPELLING[spelled]
    if spelled.startswith("\\not"):
        return "\\ne "
    return _RELATION_COMMAND[spelled[1:]]


def _strip_trailing_punctuation(text: str) -> str:
    """``5.`` and ``\\frac13,`` end a sentence; ``1, 2, 3, ...`` ends with an ellipsis."""
    if text.endswith("..."):
        return text
    return _TRAILING_PUNCT.sub("", text).rstrip()


def _has_digit(text: str) -> bool:
    return any(char.isdigit() for char in text)


def _matrix(text: str) -> str:
    """``bmatrix``, ``matrix`` and ``\\left[\\begin{array}{cc}..\\end{array}\\right]`` are
    all written as ``pmatrix``: a matrix is its entries, whatever its brackets."""
    text = _MATRIX_ENV.sub(lambda m: "\\" + m.group(1) + "{pmatrix}", text)
    array = _ARRAY_MATRIX.match(text)
    if array is not None:
        text = "\\begin{pmatrix}" + array.group(1) + "\\end{pmatrix}"
    wrapped = _WRAPPED_MATRIX.fullmatch(text)
    return wrapped.group(1) if wrapped is not None else text


def _without_approximation(text: str) -> str:
    """``x = \\frac13 \\approx 0.33`` is ``x = \\frac13``; ``x \\approx 11`` is ``x = 11``."""
    head, tail = (part.strip() for part in _APPROX.split(text, maxsplit=1))
    if not head:
        return tail
    if re.fullmatch(_LABEL, head):
        return f"{head} = {tail}"
    return head.rstrip("= ")


def _same_variable_values(text: str) -> str:
    """``x = 2, x = -3`` (from "x = 2 or x = -3") is the list ``2, -3``."""
    items = [item.strip() for item in text.split(",")]
    matches = [_SAME_VARIABLE_ITEM.match(item) for item in items]
    if len(items) < 2 or any(m is None for m in matches):
        return text
    if len({m.group(1) for m in matches if m is not None}) != 1:
        return text
    return ", ".join(m.group(2).strip() for m in matches if m is not None)


def _strip_percent(text: str) -> tuple[str, bool]:
    stripped = _PERCENT.sub("", text)
    return stripped, stripped != text


def _strip_units(text: str, *, single_letters: bool) -> tuple[str, str]:
    """Remove a trailing unit (``18\\text{ inches}``, ``5 apples``, ``9 (apples)``).

    Returns the text and the unit removed. One-letter words count as units only where
    answers are plain numbers (``2600{g}``); in LaTeX answers ``2 c`` keeps its ``c``.
    """
    unit = ""
    for _ in range(3):
        match = _TEXT_UNIT.search(text)
        if match is None or not text[: match.start()].strip():
            break
        if match.group(1).strip() in _SINGLE_LETTER_CONSTANTS:
            break
        unit = unit or match.group(1).strip()
        text = text[: match.start()].rstrip()
    match = _POWER_UNIT.search(text)  # 10 cm^2, 10 m^3: a unit of area or volume, even "m"
    if match is not None:
        return text[: match.start()].rstrip(), unit or match.group(1)
    match = _WORD_UNIT.search(text)
    if match is not None and _is_unit_phrase(match.group(1), single_letters):
        unit = unit or match.group(1).strip()
        text = text[: match.start()].rstrip()
    elif not text.isascii() and (match := _SCRIPT_UNIT.search(text)) is not None:
        unit = unit or match.group(1)  # 18美元, 18 долларов: scripts that glue their units
        text = text[: match.start()].rstrip()
    return text, unit


def _is_unit_phrase(phrase: str, single_letters: bool) -> bool:
    words = [w for w in re.split(r"[ .'-]+", phrase) if w]
    shortest = 1 if single_letters else 2
    return bool(words) and all(len(w) >= shortest and w.lower() not in MATH_WORDS for w in words)


def strip_unit(answer: Answer, unit: str) -> Answer:
    """Remove ``unit`` (the reference's unit) from the end of ``answer`` in any wrapping.

    ``144{m}^3`` or ``144 m^3`` lose their ``m`` when the reference was ``144\\mbox{m}^3``.
    """
    if not unit or answer.is_text or answer.unit:
        return answer
    pattern = re.compile(
        r"(?<=[\d}])\s*(?:\\(?:text|mbox|mathrm)\s*)?\{?\s*"
        + re.escape(unit)
        + r"\s*\}?(?:\s*\^\s*\{?\d\}?)?$"
    )
    stripped = pattern.sub("", answer.text)
    if stripped == answer.text or not stripped:
        return answer
    return Answer(stripped, answer.percent, answer.is_text, unit)


def _strip_currency(text: str) -> str:
    return _TRAILING_CURRENCY.sub("", _CURRENCY.sub(r"\1", text))


def _canonical_number(text: str) -> str:
    """``1,600`` -> ``1600``, ``.5`` -> ``0.5``, ``(5)`` -> ``5``, ``4210_{5}`` -> ``4210``.

    A base subscript is a unit like any other: the digits are compared, not the value.
    """
    base = _BASE_NUMERAL.match(text)
    if base is not None:
        return base.group(1)
    if _COMMA_NUMBER.match(text):
        text = text.replace(",", "")
    elif _SPACED_THOUSANDS.match(text):
        text = text.replace(" ", "")
    mixed = _MIXED_NUMBER.match(text)
    if mixed is not None:
        text = _improper_fraction(mixed)
    parenthesised = _PARENTHESISED_NUMBER.match(text)
    if parenthesised is not None:
        text = parenthesised.group(1)
    if text.startswith("."):
        text = "0" + text
    elif text.startswith("-."):
        text = "-0" + text[1:]
    return text


def _improper_fraction(mixed: re.Match[str]) -> str:
    """``2\\frac{1}{4}`` and ``2 1/4`` are mixed numbers, 9/4, when the fraction is proper;
    an improper one (``2\\frac{5}{4}``) is left as written (a product)."""
    groups = mixed.groups()
    sign, whole, numerator, denominator = groups[0:4] if groups[1] is not None else groups[4:8]
    num, den = int(numerator), int(denominator)
    if den == 0 or num >= den or len(whole) > 12:
        return mixed.group(0)
    return f"{sign}\\frac{{{int(whole) * den + num}}}{{{den}}}"


def _looks_like_text(text: str) -> bool:
    """Prose or a word answer: a real word, and none of the characters of formulas."""
    if _TIME_OF_DAY.fullmatch(text):
        return True
    if _NOT_TEXT_CHAR.search(text):
        return False
    if not text.isascii() and _SCRIPT_WORD.search(text):
        return True  # a word in another script: 星期一, понедельник
    return any(w.lower() not in MATH_WORDS for w in _ALPHA_WORD.findall(text))


def _canonical_spacing(text: str) -> str:
    """Drop spaces except between letters (``\\pi r`` keeps its space), and write every
    comma as ``", "``: a list (``32, 349``) must never be read as one number with a
    thousands separator (``32,349``, which is turned into ``32349`` before this)."""
    text = _SPACE_NOT_AFTER_WORD.sub("", _collapse_spaces(text))
    text = _SPACE_NOT_BEFORE_WORD.sub("", text)
    return text.replace(",", ", ") if "," in text else text


def _collapse_spaces(text: str) -> str:
    return _SPACES.sub(" ", text).strip()
