"""From finished samples to a vote: the one path, for ``solve`` (samples in memory) and the
engine (samples read back from the run store) alike.

Samples become :class:`~verimath.voting.Candidate` s in sample order, are grouped by the
grader's equivalence and voted; the adaptive stop rule reads the same candidates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol

from verimath.adaptive import AdaptivePolicy, should_stop
from verimath.config import SolveOptions
from verimath.grading import Status
from verimath.run_records import SampleRecord, VoteClassRecord, VoteRecord
from verimath.verification import VerificationState
from verimath.voting import PLAIN_WEIGHTS, AnswerClass, Candidate, VoteResult, Weights, vote

__all__ = [
    "Voter",
    "adaptive_stop",
    "candidates_of",
    "uncut_vote_grade",
    "vote_classes",
    "vote_record",
]

Same = Callable[[str, str], bool]
"""Whether two answers are the same answer (the grader's equivalence)."""


class Voter(Protocol):
    """A finished sample as voting sees it (a Trajectory or a stored SampleRecord)."""

    @property
    def answer(self) -> str | None: ...

    @property
    def state(self) -> VerificationState: ...


def candidates_of(samples: Sequence[Voter]) -> list[Candidate]:
    """The candidates of finished samples, in their order."""
    return [Candidate(s.answer, s.state) for s in samples]


async def adaptive_stop(
    samples: Sequence[Voter], k: int, weights: Weights, same: Same, policy: AdaptivePolicy
) -> bool:
    """Whether the adaptive rule stops sampling after this prefix of samples (the checks may
    wait on grader workers, so they run off the event loop)."""
    decision = await asyncio.to_thread(
        should_stop, candidates_of(samples), k, weights, same, policy
    )
    return decision.stop


def vote_classes(result: VoteResult, indices: Sequence[int]) -> tuple[VoteClassRecord, ...]:
    """The ranked classes of a vote, members named by ``indices`` (their sample indices)."""
    return tuple(
        VoteClassRecord(
            c.answer,
            c.score,
            c.counts.true,
            c.counts.uncertain,
            c.counts.false,
            tuple(indices[i] for i in c.members),
        )
        for c in result.classes
    )


def vote_record(
    problem_id: str, samples: Sequence[SampleRecord], options: SolveOptions, same: Same
) -> VoteRecord:
    """Weighted and plain votes over stored samples; a winner's grade is its first member's."""
    candidates = candidates_of(samples)
    weighted = vote(candidates, options.weights, same)
    plain = vote(candidates, PLAIN_WEIGHTS, same)

    def grade_of(classes: Sequence[AnswerClass]) -> Status:
        if not classes or classes[0].answer is None:
            return Status.UNPARSEABLE
        return samples[classes[0].first_index].grade

    return VoteRecord(
        problem_id,
        weighted.winner,
        grade_of(weighted.classes),
        plain.winner,
        grade_of(plain.classes),
        len(samples),
        vote_classes(weighted, [s.sample_index for s in samples]),
    )


def uncut_vote_grade(
    record: VoteRecord, samples: Sequence[SampleRecord], weights: Weights
) -> Status | None:
    """The grade of the weighted vote ``record`` had its cut samples (``SampleRecord.cut``)
    been left out; None when every sample was cut.

    The answer classes are the stored vote's (the grader's grouping), so no answer is compared
    again: each uncut sample votes with its class's answer, ranked by the same rules.
    """
    class_answer = {i: c.answer for c in record.classes for i in c.samples}
    kept = [s for s in samples if not s.cut and s.sample_index in class_answer]
    if not kept:
        return None
    result = vote([Candidate(class_answer[s.sample_index], s.state) for s in kept], weights)
    if not result.classes or result.classes[0].answer is None:
        return Status.UNPARSEABLE
    return kept[result.classes[0].first_index].grade
