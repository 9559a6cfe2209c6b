"""Tests for verimath.adaptive: the stopping rule (exhaustively and by property), the
probabilistic model against brute force, replay, and summaries."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verimath.adaptive import (
    AdaptiveOutcome,
    AdaptivePolicy,
    should_stop,
    simulate_adaptive,
    summarize,
)
from verimath.errors import ConfigError
from verimath.verification import VerificationState
from verimath.voting import DEFAULT_WEIGHTS, PLAIN_WEIGHTS, Candidate, Weights, vote

T, U, F = VerificationState.TRUE, VerificationState.UNCERTAIN, VerificationState.FALSE
STATES = (T, U, F)
EXACT = AdaptivePolicy("exact")
WEIGHTINGS = [DEFAULT_WEIGHTS, PLAIN_WEIGHTS, Weights(1.0, 0.3, 0.0)]


def cands(spec: str) -> list[Candidate]:
    """'a:U a:T -:F' -> candidates; '-' is a missing answer."""
    out = []
    for item in spec.split():
        answer, state = item.rsplit(":", 1)
        out.append(Candidate(None if answer == "-" else answer, {"T": T, "U": U, "F": F}[state]))
    return out


def same_number(a: str, b: str) -> bool:
    """'1/2' == '0.5' (an equivalence relation, like the grader's)."""
    try:
        return Fraction(a) == Fraction(b)
    except (ValueError, ZeroDivisionError):
        return a == b


# --- policy and simple decisions ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "greedy"},
        {"wave": 0},
        {"min_samples": 0},
        {"threshold": 1.5},
        {"threshold": -0.1},
        {"max_weight": -1.0},
        {"max_weight": float("inf")},
        {"prior": 0.0},
        {"new_answer_prior": -1.0},
    ],
)
def test_policy_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        AdaptivePolicy(**kwargs)


def test_more_candidates_than_k_is_an_error() -> None:
    with pytest.raises(ConfigError, match="k_total=2"):
        should_stop(cands("a:U a:U a:U"), 2)
    with pytest.raises(ConfigError):
        should_stop([], 0)


# (prefix, k, weights, stop?) — each row names the rule it pins down.
CASES = [
    ("a:U", 1, PLAIN_WEIGHTS, True),  # all drawn
    ("", 3, PLAIN_WEIGHTS, False),  # nothing drawn
    ("-:U -:U", 3, PLAIN_WEIGHTS, False),  # no answer yet: a later answer would win
    ("-:U -:U a:U", 5, PLAIN_WEIGHTS, False),  # a new answer with 2 votes beats 1
    ("a:U a:U", 4, PLAIN_WEIGHTS, True),  # 2-2 at worst, ties go to first appearance
    ("a:U b:U", 4, PLAIN_WEIGHTS, False),
    ("b:U a:U a:U", 4, PLAIN_WEIGHTS, False),  # b reaches 2-2 and appeared first
    ("a:U b:U a:U", 4, PLAIN_WEIGHTS, True),  # b reaches 2-2 but a appeared first
    ("a:U a:U", 5, PLAIN_WEIGHTS, False),  # 3 remaining > 2
    ("a:T a:T", 4, DEFAULT_WEIGHTS, True),  # 2.0 vs 2.0, 2 True each, 2 each: first wins
    ("a:U a:U a:U a:U", 6, DEFAULT_WEIGHTS, False),  # 2.0 vs 2 Trues: True count decides
    ("a:U a:U a:U a:U a:U", 7, DEFAULT_WEIGHTS, True),  # 2.5 vs 2.0
    ("a:T a:U b:T", 5, DEFAULT_WEIGHTS, False),  # b can reach 3.0 vs 1.5
]


@pytest.mark.parametrize(("spec", "k", "weights", "stop"), CASES)
def test_exact_decisions(spec: str, k: int, weights: Weights, stop: bool) -> None:
    decision = should_stop(cands(spec), k, weights, policy=EXACT)
    assert decision.stop is stop, decision.reason
    assert decision.leader == vote(cands(spec), weights).winner
    assert decision.drawn + decision.remaining == k


def test_false_votes_still_count_for_a_rival() -> None:
    # a: 2 True = 2.0; b: one False vote (0.2) plus 2 future True = 2.2 > 2.0
    assert not should_stop(cands("a:T a:T b:F"), 5, DEFAULT_WEIGHTS, policy=EXACT).stop
    # with one remaining sample b reaches only 1.2
    assert should_stop(cands("a:T a:T b:F a:F"), 5, DEFAULT_WEIGHTS, policy=EXACT).stop


def test_min_samples_holds_back_a_settled_winner() -> None:
    policy = AdaptivePolicy(min_samples=3)
    assert not should_stop(cands("a:U a:U"), 4, PLAIN_WEIGHTS, policy=policy).stop
    assert should_stop(cands("a:U a:U a:U"), 4, PLAIN_WEIGHTS, policy=policy).stop


def test_max_weight_bounds_future_candidates() -> None:
    prefix = [Candidate("a", U, 1.0)] * 3
    assert should_stop(prefix, 5, PLAIN_WEIGHTS, policy=EXACT).stop  # 3 vs 2
    heavy = AdaptivePolicy(max_weight=2.0)
    assert not should_stop(prefix, 5, PLAIN_WEIGHTS, policy=heavy).stop  # 3 vs 4
    weightless = AdaptivePolicy(max_weight=0.0)
    assert should_stop([Candidate("a", U, 0.5)], 3, PLAIN_WEIGHTS, policy=weightless).stop


def test_exact_decision_reports_no_probability_unless_settled() -> None:
    settled = should_stop(cands("a:U a:U"), 4, PLAIN_WEIGHTS)
    assert settled.change_probability == 0.0
    assert should_stop(cands("a:U b:U"), 4, PLAIN_WEIGHTS).change_probability is None


# --- exact mode: exhaustive -----------------------------------------------------------------------


def _symbols(answers: str, missing: bool) -> list[Candidate]:
    options = [*answers, None] if missing else list(answers)
    return [Candidate(a, s) for a in options for s in STATES]


def _check_tree(
    prefix: list[Candidate], k: int, weights: Weights, symbols: list[Candidate]
) -> frozenset[str | None]:
    """Final winners over all continuations of ``prefix``; checks the decision at each node."""
    if len(prefix) == k:
        return frozenset({vote(prefix, weights).winner})
    finals = frozenset().union(*(_check_tree([*prefix, s], k, weights, symbols) for s in symbols))
    decision = should_stop(prefix, k, weights, policy=EXACT)
    if decision.stop:  # sound: every continuation keeps the prefix's winner
        assert finals == {vote(prefix, weights).winner}, (prefix, decision.reason)
    else:  # tight: some continuation changes it
        assert finals != {decision.leader}, (prefix, decision.reason)
    return finals


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_exact_mode_is_sound_and_tight_for_every_continuation(k: int) -> None:
    """All sequences of 3 answers x 3 states up to k = 5, default weights."""
    _check_tree([], k, DEFAULT_WEIGHTS, _symbols("abc", missing=False))


@pytest.mark.parametrize("weights", WEIGHTINGS, ids=lambda w: w.spec())
def test_exact_mode_exhaustive_with_missing_answers(weights: Weights) -> None:
    """All sequences of 3 answers or none x 3 states up to k = 4, three weightings."""
    for k in range(1, 5):
        _check_tree([], k, weights, _symbols("abc", missing=True))


# --- exact mode: properties -----------------------------------------------------------------------

ANSWERS = st.sampled_from(["1", "2", "1/2", "0.5", "3", "x", None])
candidates = st.builds(
    Candidate,
    ANSWERS,
    st.sampled_from(STATES),
    st.sampled_from([0.0, 0.25, 0.5, 1.0]),
)
weightings = st.sampled_from([*WEIGHTINGS, Weights(2.0, 1.0, 0.5), Weights(0.3, 0.2, 0.1)])


@settings(max_examples=400, deadline=None)
@given(st.lists(candidates, max_size=8), st.lists(candidates, min_size=1, max_size=8), weightings)
def test_exact_stop_never_changes_the_answer(
    prefix: list[Candidate], rest: list[Candidate], weights: Weights
) -> None:
    decision = should_stop(prefix, len(prefix) + len(rest), weights, same_number)
    if decision.stop:
        assert vote(prefix + rest, weights, same_number).winner == decision.leader


@settings(max_examples=300, deadline=None)
@given(st.lists(candidates, min_size=1, max_size=8), st.integers(1, 6), weightings)
def test_exact_go_on_means_some_continuation_changes_the_answer(
    prefix: list[Candidate], remaining: int, weights: Weights
) -> None:
    decision = should_stop(prefix, len(prefix) + remaining, weights, same_number)
    if decision.stop:
        return
    answers = {c.answer for c in prefix if c.answer is not None} | {"a new answer"}
    finals = {
        vote(prefix + [Candidate(a, T)] * remaining, weights, same_number).winner for a in answers
    }
    assert finals != {decision.leader}


# --- probabilistic mode ---------------------------------------------------------------------------


def _urn_change_probability(
    prefix: list[Candidate], k: int, weights: Weights, policy: AdaptivePolicy
) -> float:
    """P(winner changes) by walking every future sequence of the Polya urn, voting each."""
    classes = sorted({c.answer for c in prefix if c.answer is not None})
    cells = [(a, s) for a in classes for s in STATES]
    alphas = [sum(c.answer == a and c.state is s for c in prefix) + policy.prior for a, s in cells]
    cells += [(None, U)]
    alphas.append(sum(c.answer is None for c in prefix) + policy.prior)
    if policy.new_answer_prior:
        cells += [("new", s) for s in STATES]
        alphas += [policy.new_answer_prior / 3] * 3
    leader = vote(prefix, weights).winner
    total = 0.0
    for path in itertools.product(range(len(cells)), repeat=k - len(prefix)):
        p, seen = 1.0, [0] * len(cells)
        for step, cell in enumerate(path):
            p *= (alphas[cell] + seen[cell]) / (sum(alphas) + step)
            seen[cell] += 1
        future = [Candidate(*cells[c]) for c in path]
        total += p * (vote(prefix + future, weights).winner != leader)
    return total


URN_CASES = [
    ("a:U a:U b:U", 6, PLAIN_WEIGHTS),
    ("b:U a:U a:U", 6, PLAIN_WEIGHTS),  # the rival appeared first: it wins ties
    ("a:T a:U b:T", 6, DEFAULT_WEIGHTS),
    ("a:U a:U a:U b:T", 7, DEFAULT_WEIGHTS),  # equal scores are decided by True counts
    ("a:U -:U a:F b:F", 7, Weights(1.0, 0.5, 0.0)),
]


@pytest.mark.parametrize(("spec", "k", "weights"), URN_CASES)
def test_one_rival_probability_matches_brute_force(spec: str, k: int, weights: Weights) -> None:
    """With no unseen answers allowed and one rival the union bound is exact."""
    policy = AdaptivePolicy("probabilistic", threshold=1.0, new_answer_prior=0.0, prior=0.3)
    decision = should_stop(cands(spec), k, weights, policy=policy)
    expected = _urn_change_probability(cands(spec), k, weights, policy)
    assert decision.change_probability == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("spec", "k"), [("a:U", 4), ("a:T a:U", 5), ("a:F a:F", 5)])
def test_new_answer_probability_matches_brute_force(spec: str, k: int) -> None:
    """With only the leader seen, the new answer is the one rival: exact again."""
    policy = AdaptivePolicy("probabilistic", threshold=1.0, new_answer_prior=1.5, prior=0.2)
    decision = should_stop(cands(spec), k, DEFAULT_WEIGHTS, policy=policy)
    expected = _urn_change_probability(cands(spec), k, DEFAULT_WEIGHTS, policy)
    assert decision.change_probability == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_union_bound_covers_several_rivals() -> None:
    policy = AdaptivePolicy("probabilistic", threshold=1.0, prior=0.3)
    prefix = cands("a:U a:U b:U c:T")
    decision = should_stop(prefix, 6, DEFAULT_WEIGHTS, policy=policy)
    exact = _urn_change_probability(prefix, 6, DEFAULT_WEIGHTS, policy)
    assert exact < decision.change_probability <= 1.0


def test_probabilistic_stops_on_a_clear_majority_and_not_on_a_split() -> None:
    policy = AdaptivePolicy("probabilistic", threshold=0.05)
    clear = should_stop(cands("a:U a:U a:U a:U"), 16, PLAIN_WEIGHTS, policy=policy)
    assert clear.stop and 0 < clear.change_probability < 0.05
    assert not should_stop(cands("a:U a:U b:U b:U"), 16, PLAIN_WEIGHTS, policy=policy).stop
    assert not should_stop(cands("a:U a:U b:U b:U"), 16, PLAIN_WEIGHTS).stop  # exact


@settings(max_examples=200, deadline=None)
@given(st.lists(candidates, min_size=1, max_size=6), st.integers(0, 6), weightings)
def test_probabilistic_stops_whenever_exact_does(
    prefix: list[Candidate], remaining: int, weights: Weights
) -> None:
    k = len(prefix) + remaining
    policy = AdaptivePolicy("probabilistic", threshold=0.01)
    if should_stop(prefix, k, weights, same_number).stop:
        assert should_stop(prefix, k, weights, same_number, policy).stop


# --- replay and summaries -------------------------------------------------------------------------

problems = st.lists(st.lists(candidates, min_size=1, max_size=8), min_size=1, max_size=5)


@settings(max_examples=100, deadline=None)
@given(problems, st.integers(1, 3), weightings)
def test_replay_in_exact_mode_gives_the_full_k_answers(
    samples: list[list[Candidate]], wave: int, weights: Weights
) -> None:
    outcomes = simulate_adaptive(samples, AdaptivePolicy(wave=wave), weights, same_number)
    for outcome, problem in zip(outcomes, samples, strict=True):
        assert outcome.answer == vote(problem, weights, same_number).winner
        assert outcome.k_total == len(problem)
        assert outcome.samples_used == len(problem) or outcome.samples_used % wave == 0


def test_replay_stops_early_and_respects_k() -> None:
    samples = [cands("a:U a:U a:U b:U"), cands("a:U b:U c:U a:U")]
    outcomes = simulate_adaptive(samples, AdaptivePolicy(), PLAIN_WEIGHTS)
    assert [o.samples_used for o in outcomes] == [2, 4]
    capped = simulate_adaptive(samples, AdaptivePolicy(), PLAIN_WEIGHTS, k=3)
    assert [(o.answer, o.samples_used, o.k_total) for o in capped] == [("a", 2, 3), ("a", 3, 3)]
    waves = simulate_adaptive(samples, AdaptivePolicy(wave=3), PLAIN_WEIGHTS)
    assert [o.samples_used for o in waves] == [3, 4]


def test_replay_rejects_a_problem_without_samples() -> None:
    with pytest.raises(ConfigError):
        simulate_adaptive([[]])


def test_probabilistic_replay_saves_more_with_a_higher_threshold() -> None:
    samples = [cands("a:U a:U a:U b:U a:U a:U a:U a:U")] * 3 + [cands("a:U b:U " * 4)]
    used = [
        sum(o.samples_used for o in simulate_adaptive(samples, policy, PLAIN_WEIGHTS))
        for policy in (
            AdaptivePolicy(),
            AdaptivePolicy("probabilistic", threshold=0.01),
            AdaptivePolicy("probabilistic", threshold=0.2),
        )
    ]
    assert used[0] >= used[1] >= used[2]
    assert used[0] > used[2]


def test_summarize_counts_samples_and_accuracy() -> None:
    outcomes = [
        AdaptiveOutcome("a", 2, 4, ""),
        AdaptiveOutcome("b", 4, 4, ""),
        AdaptiveOutcome("c", 2, 4, ""),
    ]
    summary = summarize(outcomes, [True, False, False])
    assert (summary.samples_used, summary.samples_budget) == (8, 12)
    assert summary.saved_fraction == pytest.approx(1 / 3)
    assert summary.mean_samples == pytest.approx(8 / 3)
    assert summary.accuracy == pytest.approx(1 / 3)
    assert summary.per_samples == ((2, 2, 0.5), (4, 1, 0.0))
    with pytest.raises(ConfigError):
        summarize(outcomes, [True])
