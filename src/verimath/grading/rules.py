"""Per-dataset grading rules: what kind of answer a dataset has and which leniencies apply."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from verimath.errors import ConfigError

__all__ = ["DATASETS", "AnswerKind", "DatasetRules", "rules_for"]


class AnswerKind(StrEnum):
    """The shape of a dataset's reference answers."""

    LATEX = "latex"  # any mathematical object written in LaTeX (MATH, college_math, generic)
    NUMBER = "number"  # one number, possibly with a unit word (GSM8K and friends, AIME, AMC)
    CHOICE = "choice"  # one option letter (MMLU)


@dataclass(frozen=True)
class DatasetRules:
    """How answers of one dataset are extracted and compared.

    Attributes:
        name: canonical dataset name, or ``None`` for the generic LaTeX/number rules.
        kind: the shape of the reference answers.
        last_number_fallback: whether a prediction without any answer marker may be graded
            by its last number. Only datasets whose answers are numbers allow it, and every
            answer found that way is flagged ``fallback=True``.
        choices: the option letters a CHOICE dataset uses.
    """

    name: str | None
    kind: AnswerKind
    last_number_fallback: bool = False
    choices: str = ""


DATASETS: dict[str, DatasetRules] = {
    rules.name: rules
    for rules in (
        DatasetRules("math", AnswerKind.LATEX),
        DatasetRules("math500", AnswerKind.LATEX),
        DatasetRules("college_math", AnswerKind.LATEX),
        DatasetRules("gsm8k", AnswerKind.NUMBER, last_number_fallback=True),
        DatasetRules("gsm-hard", AnswerKind.NUMBER, last_number_fallback=True),
        DatasetRules("svamp", AnswerKind.NUMBER, last_number_fallback=True),
        DatasetRules("asdiv", AnswerKind.NUMBER, last_number_fallback=True),
        DatasetRules("mawps", AnswerKind.NUMBER, last_number_fallback=True),
        DatasetRules("aime24", AnswerKind.NUMBER, last_number_fallback=True),
        DatasetRules("amc23", AnswerKind.NUMBER, last_number_fallback=True),
        DatasetRules("mmlu_stem", AnswerKind.CHOICE, choices="ABCD"),
    )
    if rules.name is not None
}
"""Every dataset name verimath knows, mapped to its rules."""

GENERIC = DatasetRules(None, AnswerKind.LATEX)

_ALIASES = {
    "math-500": "math500",
    "mmlu-stem": "mmlu_stem",
    "college-math": "college_math",
    "gsm_hard": "gsm-hard",
    "gsmhard": "gsm-hard",
}


def known_rules(dataset: str | None) -> str | None:
    """The name of ``dataset``'s rules if verimath has them, else None (the generic rules).

    For data of any origin: a user's own JSONL is graded by the generic rules, not refused.
    """
    if dataset is None:
        return None
    key = dataset.strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in DATASETS else None


def rules_for(dataset: str | None) -> DatasetRules:
    """The rules of ``dataset`` (case-insensitive); ``None`` gives the generic rules.

    Raises:
        ConfigError: the name is not one verimath knows.
    """
    if dataset is None:
        return GENERIC
    key = dataset.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return DATASETS[key]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise ConfigError(
            f"unknown dataset {dataset!r} for grading; use one of {known}, "
            "or no dataset for the generic LaTeX/number rules"
        ) from None
