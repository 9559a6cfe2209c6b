"""A dataset's identity: what a run's results depend on is the problems' content, not a path.

Each problem is known by the sha256 of its question and gold answer; a resumed run compares
the problems it stored with those it loads now, and lists each change (see
:func:`changed_problems`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from verimath.datasets.problem import Problem

__all__ = ["ProblemChange", "changed_problems", "content_digest", "file_digest", "problem_digest"]

_READ_CHUNK = 1 << 20


def problem_digest(question: str, gold: str) -> str:
    """sha256 of a problem's question and gold answer (a NUL between them)."""
    return hashlib.sha256(f"{question}\0{gold}".encode()).hexdigest()


def content_digest(problems: Iterable[Problem]) -> str:
    """sha256 over the problems' ids and digests, in their order."""
    digest = hashlib.sha256()
    for p in problems:
        digest.update(f"{p.id}\0{problem_digest(p.question, p.answer)}\n".encode())
    return digest.hexdigest()


def file_digest(path: Path) -> str | None:
    """sha256 of a dataset file's bytes; None when it is not a readable file."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as source:
            while chunk := source.read(_READ_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


@dataclass(frozen=True)
class ProblemChange:
    """A stored problem whose question or gold differs in the dataset loaded now."""

    problem_id: str
    old_question: str
    old_gold: str
    new: Problem

    @property
    def question_changed(self) -> bool:
        return self.old_question != self.new.question

    def describe(self) -> str:
        """``p3: gold '5' -> '7'`` or ``p3: question changed``, one short phrase."""
        parts = ["question changed"] if self.question_changed else []
        if self.old_gold != self.new.answer:
            parts.append(f"gold {self.old_gold!r} -> {self.new.answer!r}")
        return f"{self.problem_id}: {' and '.join(parts)}"


def changed_problems(
    stored: Mapping[str, tuple[str, str]], problems: Iterable[Problem]
) -> list[ProblemChange]:
    """The problems whose (question, gold) differ from those stored under their id."""
    changes = []
    for problem in problems:
        if (old := stored.get(problem.id)) is not None and old != (
            problem.question,
            problem.answer,
        ):
            changes.append(ProblemChange(problem.id, old[0], old[1], problem))
    return changes
