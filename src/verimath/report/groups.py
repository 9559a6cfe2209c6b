"""Problem groups reports break figures down by: subject and level, in the paper's order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from verimath.report.runs import ProblemRow, Run

__all__ = [
    "PAPER_SUBJECTS",
    "levels_of",
    "problems_by",
    "subject_header",
    "subjects_of",
]

PAPER_SUBJECTS = {
    "Intermediate Algebra": "IntAlg",
    "Precalculus": "Precalc",
    "Geometry": "Geom",
    "Number Theory": "NumTh",
    "Counting & Probability": "C&P",
    "Prealgebra": "Prealg",
    "Algebra": "Alg",
}
"""MATH subjects in the column order of the paper's Table 1, with its abbreviations."""


def subject_header(subject: str) -> str:
    """The paper's abbreviation of a MATH subject, else the subject itself."""
    return PAPER_SUBJECTS.get(subject, subject)


def subjects_of(runs: Iterable[Run]) -> list[str]:
    """Subjects present in any run: the paper's in its order, then the others sorted."""
    found = {p.subject for run in runs for p in run.problems if p.subject is not None}
    known = [s for s in PAPER_SUBJECTS if s in found]
    return known + sorted(found - set(known))


def levels_of(runs: Iterable[Run]) -> list[int]:
    return sorted({p.level for run in runs for p in run.problems if p.level is not None})


def problems_by(
    problems: Sequence[ProblemRow], key: Callable[[ProblemRow], object]
) -> dict[object, list[ProblemRow]]:
    """Problems grouped by ``key`` (None keys dropped), in run order within a group."""
    groups: dict[object, list[ProblemRow]] = {}
    for problem in problems:
        value = key(problem)
        if value is not None:
            groups.setdefault(value, []).append(problem)
    return groups
