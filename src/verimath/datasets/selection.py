"""``select``: the subset of a dataset a run works on (``--subject --level --ids --shuffle
--seed --limit``)."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from verimath.datasets.problem import Problem
from verimath.errors import ConfigError

__all__ = ["select", "shuffle_key", "subject_key"]

_MAX_LISTED_IDS = 8


def select(
    problems: Sequence[Problem],
    subjects: Iterable[str] | str | None = None,
    levels: Iterable[int] | int | None = None,
    ids: Iterable[str] | str | None = None,
    limit: int | None = None,
    shuffle: bool = False,
    seed: int = 0,
) -> list[Problem]:
    """The problems matching every given filter, optionally shuffled, then cut to ``limit``.

    Filters keep the source order. ``subjects`` match ignoring case and punctuation, so
    ``number_theory`` selects ``Number Theory`` and ``counting_and_probability`` selects
    ``Counting & Probability``. ``None`` or an empty collection means no filter. A subject,
    level or id that no problem has is a :class:`~verimath.errors.ConfigError` listing the
    valid values, checked against all of ``problems``.

    ``shuffle`` orders by :func:`shuffle_key`: the same seed gives the same order on every
    machine and Python version, and the order of two problems does not depend on which other
    problems are present (so ``--shuffle --limit 100`` picks nested samples as limit grows).
    """
    chosen = list(problems)
    if wanted := _as_set(subjects):
        keys = _check_subjects(problems, wanted)
        chosen = [p for p in chosen if p.subject is not None and subject_key(p.subject) in keys]
    if wanted_levels := _as_level_set(levels):
        _check_levels(problems, wanted_levels)
        chosen = [p for p in chosen if p.level in wanted_levels]
    if wanted_ids := _as_set(ids):
        _check_ids(problems, wanted_ids)
        chosen = [p for p in chosen if p.id in wanted_ids]
    if shuffle:
        chosen.sort(key=lambda problem: shuffle_key(seed, problem.id))
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"limit must be a positive integer, got {limit!r}")
        chosen = chosen[:limit]
    return chosen


def subject_key(subject: str) -> str:
    """``Counting & Probability`` -> ``counting_and_probability`` (the MATH directory name)."""
    return re.sub(r"[^a-z0-9]+", "_", subject.lower().replace("&", " and ")).strip("_")


def shuffle_key(seed: int, problem_id: str) -> bytes:
    """The sort key of a problem in the shuffled order for ``seed``: sha256 of seed and id."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    return hashlib.sha256(f"{seed}\0{problem_id}".encode()).digest()


def _as_set(values: Iterable[str] | str | None) -> set[str]:
    if values is None:
        return set()
    return {values} if isinstance(values, str) else set(values)


def _as_level_set(levels: Iterable[int] | int | None) -> set[int]:
    if levels is None:
        return set()
    chosen = {levels} if isinstance(levels, int) else set(levels)
    for level in chosen:
        if isinstance(level, bool) or not isinstance(level, int):
            raise ConfigError(f"levels must be integers, got {level!r}")
    return chosen


def _check_subjects(problems: Sequence[Problem], wanted: set[str]) -> set[str]:
    """The keys of the wanted subjects; unknown ones are an error listing the valid ones."""
    counts = Counter(p.subject for p in problems if p.subject is not None)
    if not counts:
        raise ConfigError(f"cannot filter by subject: {_dataset_names(problems)} has no subjects")
    valid = {subject_key(subject) for subject in counts}
    unknown = sorted(s for s in wanted if subject_key(s) not in valid)
    if unknown:
        listed = "; ".join(f"{subject} ({count})" for subject, count in sorted(counts.items()))
        raise ConfigError(f"unknown subject {', '.join(map(repr, unknown))}; valid: {listed}")
    return {subject_key(subject) for subject in wanted}


def _check_levels(problems: Sequence[Problem], wanted: set[int]) -> None:
    valid = sorted({p.level for p in problems if p.level is not None})
    if not valid:
        raise ConfigError(f"cannot filter by level: {_dataset_names(problems)} has no levels")
    unknown = sorted(wanted.difference(valid))
    if unknown:
        raise ConfigError(f"unknown level {unknown}; valid levels: {valid}")


def _check_ids(problems: Sequence[Problem], wanted: set[str]) -> None:
    valid = [p.id for p in problems]
    unknown = sorted(wanted.difference(valid))
    if not unknown:
        return
    hints = []
    for problem_id in unknown[:_MAX_LISTED_IDS]:
        close = difflib.get_close_matches(problem_id, valid, n=1)
        hints.append(f"{problem_id!r} (did you mean {close[0]!r}?)" if close else repr(problem_id))
    more = f" and {len(unknown) - _MAX_LISTED_IDS} more" if len(unknown) > _MAX_LISTED_IDS else ""
    examples = ", ".join(valid[:_MAX_LISTED_IDS])
    raise ConfigError(
        f"unknown id {', '.join(hints)}{more}; valid ids are those of "
        f"{_dataset_names(problems)}, e.g. {examples} ({len(valid)} in total)"
    )


def _dataset_names(problems: Sequence[Problem]) -> str:
    names = sorted({p.dataset for p in problems})
    return ", ".join(names) if names else "an empty dataset"
