"""Verification-weighted and plain majority voting over answer equivalence classes, and curves.

``Score(a) = sum over states v of w_v * (weights of the candidates in class a with state v)``;
the highest score wins (arXiv:2308.07921). Answers are grouped with a ``same``
predicate (the grader's equivalence, passed in by the caller). Everything here is pure.

Ranking of classes, first difference decides (one rule, ``_key``, used by every path):

1. a class with an answer beats the class of missing answers (``None`` wins only alone);
2. higher score, compared to 9 decimal places so float noise cannot break a tie;
3. with weighted voting only, more candidates verified True (with plain weights the states
   play no part at all, not even in ties);
4. more candidates;
5. earlier first appearance in the input order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from verimath.errors import ConfigError, InputError
from verimath.verification import VerificationState

__all__ = [
    "DEFAULT_WEIGHTS",
    "PLAIN_WEIGHTS",
    "AnswerClass",
    "Candidate",
    "CurvePoint",
    "StateCounts",
    "VoteResult",
    "Weights",
    "exact_match",
    "group_answers",
    "pass_at_k",
    "plain_majority",
    "vote",
    "voting_curve",
]

Same = Callable[[str, str], bool]
SCORE_DECIMALS = 9  # scores equal to this many decimals tie
MAX_EXACT_SUBSETS = 2000  # per (problem, k): enumerate all k-subsets up to this many, else sample


def exact_match(a: str, b: str) -> bool:
    """Default equivalence: the same string after stripping surrounding whitespace."""
    return a.strip() == b.strip()


@dataclass(frozen=True)
class Candidate:
    """One sampled solution's vote: its answer (None if none was extracted) and state.

    ``weight`` multiplies the state weight (e.g. a reward-model score); 1.0 by default. A blank
    answer counts as no answer.
    """

    answer: str | None
    state: VerificationState = VerificationState.UNCERTAIN
    weight: float = 1.0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "state", VerificationState(self.state))
        except ValueError:
            raise InputError(
                f"candidate state {self.state!r} is not one of "
                f"{[s.value for s in VerificationState]}",
                field="state",
            ) from None
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise InputError(
                f"candidate weight must be finite and >= 0, got {self.weight!r}", field="weight"
            )
        if self.answer is not None and not self.answer.strip():
            object.__setattr__(self, "answer", None)


@dataclass(frozen=True)
class Weights:
    """Vote weights per verification state: true > uncertain > false >= 0, or all equal (> 0)."""

    true: float = 1.0
    uncertain: float = 0.5
    false: float = 0.2

    def __post_init__(self) -> None:
        values = (self.true, self.uncertain, self.false)
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ConfigError(f"weights must be finite and >= 0, got {self.spec()}")
        plain = self.true == self.uncertain == self.false
        if plain and self.true == 0:
            raise ConfigError(
                "weights are all 0; use equal positive weights such as '1,1,1' "
                "for plain majority voting"
            )
        if not plain and not self.true > self.uncertain > self.false:
            raise ConfigError(
                f"weights {self.spec()} must satisfy true > uncertain > false >= 0 "
                "(or be all equal for plain majority), e.g. '1,0.5,0.2'"
            )

    @classmethod
    def parse(cls, text: str) -> Weights:
        """Weights from ``"T,U,F"``, e.g. ``"1,0.5,0.2"``; ConfigError on anything else."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 3:
            raise ConfigError(
                f"weights {text!r} must be three comma-separated numbers "
                "'TRUE,UNCERTAIN,FALSE', e.g. '1,0.5,0.2'"
            )
        try:
            true, uncertain, false = (float(p) for p in parts)
        except ValueError:
            raise ConfigError(f"weights {text!r} must be numbers, e.g. '1,0.5,0.2'") from None
        return cls(true, uncertain, false)

    @property
    def is_plain(self) -> bool:
        """All weights equal: plain majority voting."""
        return self.true == self.uncertain == self.false

    def of(self, state: VerificationState) -> float:
        """The weight of one vote in ``state``."""
        return {
            VerificationState.TRUE: self.true,
            VerificationState.UNCERTAIN: self.uncertain,
            VerificationState.FALSE: self.false,
        }[state]

    def spec(self) -> str:
        """The ``"T,U,F"`` form that ``parse`` reads."""
        return f"{self.true:g},{self.uncertain:g},{self.false:g}"


DEFAULT_WEIGHTS = Weights(1.0, 0.5, 0.2)
"""True counts double an Uncertain vote; a False vote keeps a little weight (see docs)."""
PLAIN_WEIGHTS = Weights(1.0, 1.0, 1.0)


@dataclass(frozen=True)
class StateCounts:
    """How many candidates of a class are in each state."""

    true: int = 0
    uncertain: int = 0
    false: int = 0

    @property
    def total(self) -> int:
        return self.true + self.uncertain + self.false


@dataclass(frozen=True)
class AnswerClass:
    """One equivalence class: its representative answer (the first member's), score, members."""

    answer: str | None
    score: float
    counts: StateCounts
    members: tuple[int, ...]  # indices into the voted candidates, ascending

    @property
    def first_index(self) -> int:
        return self.members[0]


@dataclass(frozen=True)
class VoteResult:
    """The winner and every class, ranked best first (``classes[0]`` is the winner's)."""

    winner: str | None
    classes: tuple[AnswerClass, ...]
    weights: Weights

    @property
    def winning_class(self) -> AnswerClass | None:
        return self.classes[0] if self.classes else None


def group_answers(candidates: Sequence[Candidate], same: Same = exact_match) -> tuple[int, ...]:
    """Class id per candidate; ids number classes by first appearance, None answers get -1.

    Each answer is compared with ``same(representative, answer)`` against the first member of
    each class so far, in order, and joins the first match: with a non-transitive ``same`` the
    classes depend on input order (deterministically). ``same`` is never called with None.
    """
    representatives: list[str] = []
    ids: list[int] = []
    for candidate in candidates:
        if candidate.answer is None:
            ids.append(-1)
            continue
        found = next(
            (j for j, rep in enumerate(representatives) if same(rep, candidate.answer)), None
        )
        if found is None:
            representatives.append(candidate.answer)
            found = len(representatives) - 1
        ids.append(found)
    return tuple(ids)


def _build_class(
    candidates: Sequence[Candidate], members: list[int], weights: Weights
) -> AnswerClass:
    states = [candidates[i].state for i in members]
    score = math.fsum(weights.of(candidates[i].state) * candidates[i].weight for i in members)
    counts = StateCounts(
        states.count(VerificationState.TRUE),
        states.count(VerificationState.UNCERTAIN),
        states.count(VerificationState.FALSE),
    )
    return AnswerClass(candidates[members[0]].answer, score, counts, tuple(members))


RankKey = tuple[bool, float, int, int, int]


def _key(missing: bool, score: float, true: int, total: int, first: int, plain: bool) -> RankKey:
    """The one ranking rule (module doc); the smallest key wins."""
    return (missing, -round(score, SCORE_DECIMALS), 0 if plain else -true, -total, first)


def _rank_key(answer_class: AnswerClass, weights: Weights) -> RankKey:
    counts = answer_class.counts
    return _key(
        answer_class.answer is None,
        answer_class.score,
        counts.true,
        counts.total,
        answer_class.first_index,
        weights.is_plain,
    )


def _vote_grouped(
    candidates: Sequence[Candidate], class_ids: Sequence[int], weights: Weights
) -> VoteResult:
    members: dict[int, list[int]] = {}
    for index, class_id in enumerate(class_ids):
        members.setdefault(class_id, []).append(index)
    classes = sorted(
        (_build_class(candidates, m, weights) for m in members.values()),
        key=lambda c: _rank_key(c, weights),
    )
    winner = classes[0].answer if classes else None
    return VoteResult(winner, tuple(classes), weights)


def vote(
    candidates: Sequence[Candidate], weights: Weights = DEFAULT_WEIGHTS, same: Same = exact_match
) -> VoteResult:
    """Verification-weighted majority vote; ranking and tie-breaking as in the module doc."""
    return _vote_grouped(candidates, group_answers(candidates, same), weights)


def plain_majority(candidates: Sequence[Candidate], same: Same = exact_match) -> VoteResult:
    """Plain majority vote: every vote weighs the same and states are ignored, even in ties."""
    return vote(candidates, PLAIN_WEIGHTS, same)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (arXiv:2107.03374): ``1 - C(n-c, k) / C(n, k)``."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ConfigError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@dataclass(frozen=True)
class CurvePoint:
    """Voting accuracy and pass@k at one k, averaged over problems."""

    k: int
    accuracy: float
    pass_at_k: float
    exact: bool  # True if every problem's k-subsets were all enumerated
    subsets: int  # subsets voted on, summed over problems


@dataclass(frozen=True)
class _Budget:
    """How many subsets to vote on: all of them up to ``max_exact``, else ``trials`` samples."""

    trials: int
    max_exact: int
    seed: int

    def subsets(self, n: int, k: int, problem: int) -> tuple[list[tuple[int, ...]], bool]:
        if math.comb(n, k) <= self.max_exact:
            return list(combinations(range(n), k)), True
        rng = random.Random(f"{self.seed}:{problem}:{k}")  # str seeds are stable across runs
        return [tuple(sorted(rng.sample(range(n), k))) for _ in range(self.trials)], False


@dataclass(frozen=True)
class _GroupedProblem:
    """One problem's samples with answer classes and class correctness computed once."""

    index: int
    candidates: Sequence[Candidate]
    class_ids: tuple[int, ...]
    class_ok: Mapping[int, bool]  # -1, the class of missing answers, is never correct

    def point(self, k: int, weights: Weights, budget: _Budget) -> CurvePoint:
        if not 1 <= k <= len(self.candidates):
            raise ConfigError(
                f"k={k} is outside 1..{len(self.candidates)}, the number of samples of "
                f"problem {self.index}"
            )
        subsets, exact = budget.subsets(len(self.candidates), k, self.index)
        votes = [weights.of(c.state) * c.weight for c in self.candidates]
        trues = [c.state is VerificationState.TRUE for c in self.candidates]
        wins = sum(
            self.class_ok[_winning_id(subset, self.class_ids, votes, trues, weights.is_plain)]
            for subset in subsets
        )
        correct = sum(self.class_ok[c] for c in self.class_ids)
        pass_k = pass_at_k(len(self.candidates), correct, k)
        return CurvePoint(k, wins / len(subsets), pass_k, exact, len(subsets))


def _winning_id(
    subset: tuple[int, ...],
    class_ids: Sequence[int],
    votes: Sequence[float],
    trues: Sequence[bool],
    plain: bool,
) -> int:
    """Class id that ``vote`` would pick on ``subset``, without building a VoteResult (speed)."""
    tally: dict[int, tuple[list[float], int, int, int]] = {}
    for position, i in enumerate(subset):
        scores, true, total, first = tally.get(class_ids[i], ([], 0, 0, position))
        scores.append(votes[i])
        tally[class_ids[i]] = (scores, true + trues[i], total + 1, first)
    return min(tally, key=lambda c: _key(c == -1, math.fsum(tally[c][0]), *tally[c][1:], plain))


def _group_problem(
    p: int, candidates: Sequence[Candidate], correct: Callable[[int, str], bool], same: Same
) -> _GroupedProblem:
    class_ids = group_answers(candidates, same)
    first = {c: i for i, c in reversed(list(enumerate(class_ids)))}
    class_ok = {
        c: c != -1 and bool(correct(p, str(candidates[i].answer))) for c, i in first.items()
    }
    return _GroupedProblem(p, candidates, class_ids, class_ok)


def voting_curve(
    candidates_per_problem: Sequence[Sequence[Candidate]],
    correct: Callable[[int, str], bool],
    ks: Sequence[int],
    weights: Weights = DEFAULT_WEIGHTS,
    same: Same = exact_match,
    trials: int = 200,
    seed: int = 0,
    max_exact: int = MAX_EXACT_SUBSETS,
) -> tuple[CurvePoint, ...]:
    """Accuracy of voting over k of the samples, and pass@k, for each k in ``ks``.

    For each problem, voting accuracy at k is averaged over all k-subsets of its samples when
    there are at most ``max(trials, max_exact)`` of them, else over ``trials`` random subsets
    (seeded by ``seed``, problem and k, so results are reproducible); then averaged over
    problems. ``correct(problem_index, answer)`` is called once per answer class, and every
    member of a class shares its verdict. Answers are grouped once over all samples of a
    problem and the grouping is reused for every subset (the same as re-grouping when
    ``same`` is an equivalence relation).
    """
    if not candidates_per_problem or trials < 1:
        raise ConfigError("voting_curve needs at least one problem and trials >= 1")
    problems = [_group_problem(p, c, correct, same) for p, c in enumerate(candidates_per_problem)]
    budget = _Budget(trials, max(trials, max_exact), seed)
    return tuple(_curve_point(problems, k, weights, budget) for k in ks)


def _curve_point(
    problems: Sequence[_GroupedProblem], k: int, weights: Weights, budget: _Budget
) -> CurvePoint:
    points = [problem.point(k, weights, budget) for problem in problems]
    return CurvePoint(
        k,
        math.fsum(q.accuracy for q in points) / len(points),
        math.fsum(q.pass_at_k for q in points) / len(points),
        all(q.exact for q in points),
        sum(q.subsets for q in points),
    )
