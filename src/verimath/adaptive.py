"""Adaptive sampling: stop drawing samples once the rest cannot (or very probably will not)
change the weighted winner.

Samples are drawn in waves; after each wave the caller passes the candidates so far to
``should_stop``. The candidates must be a *prefix* of the final sample order (samples ``0..n-1``,
in index order), because ``vote`` breaks its last ties by first appearance.

- ``exact`` mode stops only when no continuation of the remaining ``k - n`` samples (any
  answer, a new one or none, any state, any weight up to ``max_weight``) changes
  ``vote(...).winner``. The test is tight: when it says "go on", one continuation exists that
  changes the winner. Proof in docs/adaptive.md (and ``_locked``).
- ``probabilistic`` mode also stops when a Dirichlet-multinomial model of the remaining samples
  puts the probability that the winner changes below ``threshold`` (docs/adaptive.md).

``simulate_adaptive`` replays recorded samples through the same rule; ``summarize`` turns its
outcomes into the figures reports print (samples spent per problem, accuracy, savings).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import Literal

import numpy as np

from verimath.errors import ConfigError
from verimath.verification import VerificationState
from verimath.voting import (
    DEFAULT_WEIGHTS,
    SCORE_DECIMALS,
    Candidate,
    RankKey,
    Weights,
    _key,  # the one ranking rule of voting.py; reused so both can never disagree
    exact_match,
    group_answers,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "DEFAULT_WAVE",
    "MODES",
    "AdaptiveOutcome",
    "AdaptivePolicy",
    "AdaptiveSummary",
    "Decision",
    "Mode",
    "should_stop",
    "simulate_adaptive",
    "summarize",
]

Mode = Literal["exact", "probabilistic"]
MODES: tuple[Mode, ...] = ("exact", "probabilistic")
Same = Callable[[str, str], bool]
STATES = (VerificationState.TRUE, VerificationState.UNCERTAIN, VerificationState.FALSE)


DEFAULT_WAVE = 1
"""Samples drawn between two checks of the stop rule (``--wave``)."""
DEFAULT_THRESHOLD = 0.02
"""Probabilistic mode: stop when P(winner changes) is below this (``--threshold``)."""


@dataclass(frozen=True)
class AdaptivePolicy:
    """When to stop sampling one problem before all k samples are drawn.

    Attributes:
        mode: ``"exact"`` (stop only when the winner is settled whatever comes next) or
            ``"probabilistic"`` (also stop when the modelled chance of a change is small).
        wave: samples drawn between two checks (a wave runs concurrently).
        threshold: probabilistic mode: stop when P(winner changes) < threshold.
        min_samples: never stop with fewer samples than this (unless all k are drawn).
        max_weight: the largest ``Candidate.weight`` a future sample may carry; the exact
            guarantee holds only for futures within it (the engine's candidates weigh 1.0).
            Probabilistic mode gives every future sample this weight.
        prior: probabilistic mode: pseudo-count added to every (answer class, state) cell
            and to the missing-answer cell.
        new_answer_prior: probabilistic mode: pseudo-count of an answer not seen yet
            (spread evenly over the three states).
    """

    mode: Mode = "exact"
    wave: int = DEFAULT_WAVE
    threshold: float = DEFAULT_THRESHOLD
    min_samples: int = 1
    max_weight: float = 1.0
    prior: float = 0.1
    new_answer_prior: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"adaptive mode {self.mode!r} is not one of {MODES}")
        if self.wave < 1 or self.min_samples < 1:
            raise ConfigError(
                f"wave ({self.wave}) and min_samples ({self.min_samples}) must be >= 1"
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in [0, 1], got {self.threshold!r}")
        if not (math.isfinite(self.max_weight) and self.max_weight >= 0):
            raise ConfigError(f"max_weight must be finite and >= 0, got {self.max_weight!r}")
        if not (math.isfinite(self.prior) and self.prior > 0):
            raise ConfigError(f"prior must be finite and > 0, got {self.prior!r}")
        if not (math.isfinite(self.new_answer_prior) and self.new_answer_prior >= 0):
            raise ConfigError(
                f"new_answer_prior must be finite and >= 0, got {self.new_answer_prior!r}"
            )


@dataclass(frozen=True)
class Decision:
    """Whether to stop, why, and the answer to give if stopping (``vote`` on the prefix).

    ``change_probability`` is 0.0 when no continuation can change the winner; in
    probabilistic mode otherwise the model's bound on P(winner changes) (when it reaches the
    threshold its computation stops early, so it is then only known to be >= threshold);
    None when it was not computed.
    """

    stop: bool
    reason: str
    leader: str | None
    drawn: int
    remaining: int
    change_probability: float | None = None


@dataclass(frozen=True)
class _Tally:
    """One answer class of the prefix (or the hypothetical new class) as ``vote`` ranks it."""

    answer: str | None
    votes: tuple[float, ...]  # weights.of(state) * candidate.weight of each member
    states: tuple[int, ...]  # members verified True, Uncertain, False
    first: int
    new: bool = False  # stands for every answer not seen yet

    def key(self, plain: bool, extra: int = 0, top_vote: float = 0.0) -> RankKey:
        """Rank key (smaller wins) after ``extra`` more members, each True with ``top_vote``.

        Only answer classes are tallied: the missing-answer class never outranks one.
        """
        score = math.fsum(self.votes + (top_vote,) * extra)
        total = sum(self.states) + extra
        return _key(False, score, self.states[0] + extra, total, self.first, plain)

    def label(self) -> str:
        return "a new answer" if self.new else repr(self.answer)


def _tallies(
    candidates: Sequence[Candidate], weights: Weights, same: Same
) -> tuple[list[_Tally], int]:
    """The answer classes of ``candidates`` in first-appearance order, and the missing count."""
    members: dict[int, list[int]] = {}
    for index, class_id in enumerate(group_answers(candidates, same)):
        members.setdefault(class_id, []).append(index)
    tallies = []
    for class_id, indices in members.items():
        if class_id == -1:
            continue
        group = [candidates[i] for i in indices]
        votes = tuple(weights.of(c.state) * c.weight for c in group)
        states = tuple(sum(c.state is s for c in group) for s in STATES)
        tallies.append(_Tally(group[0].answer, votes, states, indices[0]))
    return tallies, len(members.get(-1, ()))


def _new_class(drawn: int) -> _Tally:
    """An answer not seen yet; its first appearance is ``drawn`` at the earliest."""
    return _Tally(None, (), (0, 0, 0), drawn, new=True)


def _locked(leader: _Tally, rival: _Tally, remaining: int, weights: Weights, top: float) -> bool:
    """Whether ``leader`` outranks ``rival`` even if all remaining samples go to ``rival``.

    Proof sketch (docs/adaptive.md): grouping is online, so the prefix's classes and first
    appearances never change; adding a member never lowers a class's score (``fsum`` is
    correctly rounded, hence monotone; votes are >= 0), True count or total. So the leader's
    key can only improve, and a rival's key is at best its key with every remaining sample
    added as True with the largest vote ``top``: all three components at their maxima at once.
    """
    worst = rival.key(weights.is_plain, remaining, top)
    return leader.key(weights.is_plain) < worst


def should_stop(
    candidates_so_far: Sequence[Candidate],
    k_total: int,
    weights: Weights = DEFAULT_WEIGHTS,
    same: Same = exact_match,
    policy: AdaptivePolicy = AdaptivePolicy(),
) -> Decision:
    """Whether to stop sampling after ``candidates_so_far`` (a prefix of the k samples).

    In either mode the decision stops when no continuation can change the winner (the
    ``leader``, which is ``vote(candidates_so_far, weights, same).winner``); probabilistic
    mode also stops when the modelled chance of a change is below ``policy.threshold``.
    With no answer yet it never stops early: a later answer would win.
    """
    drawn, remaining = len(candidates_so_far), k_total - len(candidates_so_far)
    if k_total < 1 or remaining < 0:
        raise ConfigError(
            f"{drawn} candidates for k_total={k_total}: need k_total >= 1 and at most "
            "k_total candidates"
        )
    tallies, missing = _tallies(candidates_so_far, weights, same)
    plain = weights.is_plain
    leader = min(tallies, key=lambda t: t.key(plain)) if tallies else None
    answer = leader.answer if leader else None

    def decide(stop: bool, reason: str, p: float | None = None) -> Decision:
        return Decision(stop, reason, answer, drawn, remaining, p)

    if remaining == 0:
        return decide(True, f"all {k_total} samples drawn")
    if drawn < policy.min_samples:
        return decide(False, f"{drawn} of min_samples={policy.min_samples} drawn")
    if leader is None:
        return decide(False, "no answer yet")
    top = max(weights.of(s) for s in STATES) * policy.max_weight
    ranked = sorted((t for t in tallies if t is not leader), key=lambda t: t.key(plain))
    rivals = [*ranked, _new_class(drawn)]
    open_rivals = [t for t in rivals if not _locked(leader, t, remaining, weights, top)]
    if not open_rivals:
        return decide(True, f"settled: {remaining} more samples cannot change the winner", 0.0)
    if policy.mode == "exact":
        who = open_rivals[0].label()
        return decide(False, f"{who} could still win with {remaining} more samples")
    p = _change_probability(leader, open_rivals, tallies, missing, remaining, weights, policy)
    if p < policy.threshold:
        reason = f"P(winner changes) <= {p:.4f} < threshold {policy.threshold:g}"
    else:
        reason = f"P(winner changes) bound reached threshold {policy.threshold:g}"
    return decide(p < policy.threshold, reason, p)


# --- the probabilistic model -------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcomes:
    """Every split of the remaining draws over the leader's, the rival's and the other cells.

    Columns: the leader's cells, the rival's cells (three each, one each with plain weights,
    where states do not matter) and the rest; with each row's gains precomputed.
    """

    counts: np.ndarray
    lead_gain: np.ndarray  # score added to the leader
    rival_gain: np.ndarray
    lead_true: np.ndarray  # True votes added (zeros with plain weights)
    rival_true: np.ndarray
    lead_total: np.ndarray  # members added
    rival_total: np.ndarray


@lru_cache(maxsize=256)
def _outcomes(draws: int, votes: tuple[float, ...]) -> _Outcomes:
    """The outcome table for ``draws`` future samples; ``votes`` are the per-cell votes."""
    width = len(votes)
    parts = 2 * width + 1
    bars = np.array(list(combinations(range(draws + parts - 1), parts - 1)), dtype=np.int64)
    bars = bars.reshape(-1, parts - 1)
    ends = np.full((len(bars), 1), draws + parts - 1)
    counts = np.diff(np.hstack([np.full((len(bars), 1), -1), bars, ends]), axis=1) - 1
    lead, rival = counts[:, :width], counts[:, width : 2 * width]
    vote = np.array(votes)
    no_true = np.zeros(len(counts), dtype=np.int64)
    table = _Outcomes(
        counts,
        lead @ vote,
        rival @ vote,
        no_true if width == 1 else lead[:, 0],
        no_true if width == 1 else rival[:, 0],
        lead.sum(axis=1),
        rival.sum(axis=1),
    )
    for array in vars(table).values():
        array.flags.writeable = False
    return table


def _log_pmf(counts: np.ndarray, alphas: Sequence[float]) -> np.ndarray:
    """Dirichlet-multinomial log-probability of each row of ``counts``."""
    draws = int(counts[0].sum())
    total = math.fsum(alphas)
    log_p = np.full(len(counts), math.lgamma(draws + 1) + math.lgamma(total))
    log_p -= math.lgamma(total + draws)
    for column, alpha in enumerate(alphas):
        table = np.array([math.lgamma(alpha + x) - math.lgamma(x + 1) for x in range(draws + 1)])
        log_p += table[counts[:, column]] - math.lgamma(alpha)
    return log_p


def _cells(tally: _Tally, policy: AdaptivePolicy) -> list[float]:
    """Posterior Dirichlet parameters of a seen class's (True, Uncertain, False) cells."""
    return [count + policy.prior for count in tally.states]


def _new_answer_cells(policy: AdaptivePolicy) -> list[float]:
    """The new-answer pseudo-count, split evenly over the three states.

    Not in proportion to the states seen so far: when the leader is a wrong answer that
    failed its checks, the unseen right answer is the one likely to be verified True, and
    a split by the seen states makes the model overconfident (measured: docs/adaptive.md).
    """
    return [policy.new_answer_prior / 3] * 3


def _overtake_probability(
    leader: _Tally,
    rival: _Tally,
    cells: tuple[list[float], list[float], float],
    remaining: int,
    weights: Weights,
    policy: AdaptivePolicy,
) -> float:
    """P(``rival`` outranks ``leader`` after the remaining samples), exactly under the model.

    ``cells``: the Dirichlet parameters of the leader's three state cells, the rival's three,
    and of everything else together (other classes, missing answers, the new-answer cells
    unless the rival is the new answer). With plain weights states play no part, so each
    class is one category.
    """
    plain = weights.is_plain
    lead, riv, rest = cells
    if sum(riv) == 0:
        return 0.0  # the model gives unseen answers no mass at all
    alphas = [sum(lead), sum(riv), rest] if plain else [*lead, *riv, rest]
    votes = (weights.true,) if plain else tuple(weights.of(s) for s in STATES)
    table = _outcomes(remaining, tuple(v * policy.max_weight for v in votes))
    ls = np.round(math.fsum(leader.votes) + table.lead_gain, SCORE_DECIMALS)
    rs = np.round(math.fsum(rival.votes) + table.rival_gain, SCORE_DECIMALS)
    lt, rt = leader.states[0] + table.lead_true, rival.states[0] + table.rival_true
    ln, rn = sum(leader.states) + table.lead_total, sum(rival.states) + table.rival_total
    ties_to_rival = rival.first < leader.first
    wins = (rs > ls) | (
        (rs == ls) & ((rt > lt) | ((rt == lt) & ((rn > ln) | ((rn == ln) & ties_to_rival))))
    )
    if not wins.any():
        return 0.0
    return float(np.exp(_log_pmf(table.counts[wins], alphas)).sum())


def _change_probability(
    leader: _Tally,
    rivals: Sequence[_Tally],
    tallies: Sequence[_Tally],
    missing: int,
    remaining: int,
    weights: Weights,
    policy: AdaptivePolicy,
) -> float:
    """Union bound over ``rivals`` of P(rival overtakes the leader), capped at 1.

    The hypothetical new class stands for every unseen answer at once (as if they all agreed),
    which overstates its chances; the union bound overstates the total. Both err towards
    drawing more samples. Rivals are taken strongest first and the sum stops once it reaches
    the threshold (the decision is then known), so a value >= threshold is a partial sum.
    """
    mass = {t.first: math.fsum(_cells(t, policy)) for t in tallies}
    everything = math.fsum(mass.values()) + missing + policy.prior + policy.new_answer_prior
    new_cells = _new_answer_cells(policy)
    total = 0.0
    for rival in rivals:
        rival_cells = new_cells if rival.new else _cells(rival, policy)
        rest = everything - mass[leader.first] - math.fsum(rival_cells)
        rest = max(rest, policy.prior)  # the missing-answer cell is always in it
        cells = (_cells(leader, policy), rival_cells, rest)
        total += _overtake_probability(leader, rival, cells, remaining, weights, policy)
        if total >= policy.threshold:
            break
    return min(total, 1.0)


# --- replay and summaries ----------------------------------------------------------------------


@dataclass(frozen=True)
class AdaptiveOutcome:
    """One problem replayed adaptively: the answer given and the samples it took."""

    answer: str | None
    samples_used: int
    k_total: int
    reason: str


def simulate_adaptive(
    samples_per_problem: Sequence[Sequence[Candidate]],
    policy: AdaptivePolicy = AdaptivePolicy(),
    weights: Weights = DEFAULT_WEIGHTS,
    same: Same = exact_match,
    k: int | None = None,
) -> tuple[AdaptiveOutcome, ...]:
    """Replay each problem's samples in recorded order, in waves of ``policy.wave``.

    ``should_stop`` is called after every wave, as the engine does online; the answer is the
    vote over the samples drawn. ``k`` caps the samples per problem (default: all recorded).
    """
    return tuple(
        _replay(list(s[:k] if k else s), policy, weights, same) for s in samples_per_problem
    )


def _replay(
    samples: Sequence[Candidate], policy: AdaptivePolicy, weights: Weights, same: Same
) -> AdaptiveOutcome:
    if not samples:
        raise ConfigError("simulate_adaptive needs at least one sample per problem")
    drawn = 0
    while True:
        drawn = min(drawn + policy.wave, len(samples))
        decision = should_stop(samples[:drawn], len(samples), weights, same, policy)
        if decision.stop:
            return AdaptiveOutcome(decision.leader, drawn, len(samples), decision.reason)


@dataclass(frozen=True)
class AdaptiveSummary:
    """Samples spent and accuracy of adaptive outcomes (the figures reports show)."""

    problems: int
    samples_used: int
    samples_budget: int
    accuracy: float
    per_samples: tuple[tuple[int, int, float], ...]  # (samples used, problems, their accuracy)

    @property
    def saved_fraction(self) -> float:
        """Share of the full-k budget not spent."""
        return 1.0 - self.samples_used / self.samples_budget

    @property
    def mean_samples(self) -> float:
        return self.samples_used / self.problems


def summarize(outcomes: Sequence[AdaptiveOutcome], correct: Sequence[bool]) -> AdaptiveSummary:
    """Totals over ``outcomes``; ``correct[i]`` says whether outcome i's answer is right."""
    if not outcomes or len(outcomes) != len(correct):
        raise ConfigError(
            f"summarize needs one verdict per outcome, got {len(outcomes)} outcomes "
            f"and {len(correct)} verdicts"
        )
    by_samples: dict[int, list[bool]] = {}
    for outcome, ok in zip(outcomes, correct, strict=True):
        by_samples.setdefault(outcome.samples_used, []).append(bool(ok))
    return AdaptiveSummary(
        len(outcomes),
        sum(o.samples_used for o in outcomes),
        sum(o.k_total for o in outcomes),
        sum(map(bool, correct)) / len(outcomes),
        tuple((n, len(v), sum(v) / len(v)) for n, v in sorted(by_samples.items())),
    )
