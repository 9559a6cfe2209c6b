"""Tests for verimath.voting: weights, vote tables with ties, properties, curves, pass@k."""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verimath.errors import ConfigError, InputError
from verimath.verification import VerificationState
from verimath.voting import (
    DEFAULT_WEIGHTS,
    PLAIN_WEIGHTS,
    Candidate,
    StateCounts,
    Weights,
    group_answers,
    pass_at_k,
    plain_majority,
    vote,
    voting_curve,
)

T, U, F = VerificationState.TRUE, VerificationState.UNCERTAIN, VerificationState.FALSE


def cands(spec: str) -> list[Candidate]:
    """'2:U 2:U 3:T -:F' -> candidates; '-' is a missing answer."""
    out = []
    for item in spec.split():
        answer, state = item.rsplit(":", 1)
        out.append(
            Candidate(
                None if answer == "-" else answer,
                VerificationState[{"T": "TRUE", "U": "UNCERTAIN", "F": "FALSE"}[state]],
            )
        )
    return out


def same_number(a: str, b: str) -> bool:
    """Treats '1/2' and '0.5' as equal (a stand-in for the grader's equivalence)."""
    try:
        return Fraction(a) == Fraction(b)
    except (ValueError, ZeroDivisionError):
        return a == b


# --- weights -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,0.5,0.2", Weights(1.0, 0.5, 0.2)),
        (" 3, 2 ,1 ", Weights(3, 2, 1)),
        ("2,1,0", Weights(2, 1, 0)),
        ("1,1,1", PLAIN_WEIGHTS),
        ("0.5,0.5,0.5", Weights(0.5, 0.5, 0.5)),
    ],
)
def test_weights_parse(text: str, expected: Weights) -> None:
    assert Weights.parse(text) == expected
    assert Weights.parse(expected.spec()) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2", "three comma-separated"),
        ("1,0.5,0.2,0", "three comma-separated"),
        ("a,b,c", "must be numbers"),
        ("", "three comma-separated"),
        ("0.2,0.5,1", "true > uncertain > false"),
        ("1,1,0.5", "true > uncertain > false"),
        ("1,0.5,0.5", "true > uncertain > false"),
        ("0,0,0", "all 0"),
        ("1,0.5,-0.1", "finite and >= 0"),
        ("nan,1,0", "finite and >= 0"),
        ("inf,1,0", "finite and >= 0"),
    ],
)
def test_weights_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Weights.parse(text)


def test_default_weights() -> None:
    assert DEFAULT_WEIGHTS == Weights() == Weights(1.0, 0.5, 0.2)
    assert not DEFAULT_WEIGHTS.is_plain and PLAIN_WEIGHTS.is_plain
    assert [DEFAULT_WEIGHTS.of(s) for s in (T, U, F)] == [1.0, 0.5, 0.2]


# --- candidates --------------------------------------------------------------------------------


def test_candidate_coerces_state_and_blank_answers() -> None:
    assert Candidate("1", "True").state is T  # type: ignore[arg-type]
    assert Candidate("1").state is U
    assert Candidate("  ").answer is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"state": "true"}, "state"),
        ({"weight": -1.0}, "weight"),
        ({"weight": float("nan")}, "weight"),
    ],
)
def test_candidate_rejects(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InputError, match=field):
        Candidate("1", **kwargs)  # type: ignore[arg-type]


# --- vote tables -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "weights", "winner", "why"),
    [
        ("2:U 2:U 3:U", DEFAULT_WEIGHTS, "2", "majority"),
        ("2:U 2:U 3:T", DEFAULT_WEIGHTS, "3", "score tie 1.0 = 1.0; more True votes wins"),
        ("2:U 2:U 3:T", Weights(1, 0.4, 0.2), "3", "1.0 > 0.8"),
        ("2:U 2:U 3:T", Weights(1, 0.6, 0.2), "2", "1.2 > 1.0"),
        ("5:F 5:F 5:F 6:U", DEFAULT_WEIGHTS, "5", "0.6 > 0.5"),
        ("5:F 5:F 5:F 6:U", Weights(1, 0.5, 0.1), "6", "0.5 > 0.3"),
        ("a:U a:U b:U b:F b:F", Weights(1, 0.5, 0.25), "b", "tie 1.0, no True; more votes"),
        ("a:U b:U", DEFAULT_WEIGHTS, "a", "full tie: earliest first appearance"),
        ("b:U a:U", DEFAULT_WEIGHTS, "b", "full tie: earliest first appearance"),
        ("a:U b:T", PLAIN_WEIGHTS, "a", "plain: states ignored even in ties"),
        ("a:U b:T", DEFAULT_WEIGHTS, "b", "weighted: 1.0 > 0.5"),
        ("a:F a:F a:F b:T", Weights(0.3, 0.2, 0.1), "b", "0.1*3 ties 0.3 despite float noise"),
        ("a:U a:F b:T", Weights(0.3, 0.2, 0.1), "b", "0.2+0.1 ties 0.3 despite float noise"),
        ("-:T -:T -:T 4:F", DEFAULT_WEIGHTS, "4", "a missing answer never beats an answer"),
        ("-:T -:U", DEFAULT_WEIGHTS, None, "no answer at all"),
        ("", DEFAULT_WEIGHTS, None, "no candidates"),
        ("x:F x:F y:F", Weights(2, 1, 0), "x", "zero False weight: tie at 0, more votes"),
    ],
)
def test_vote_table(spec: str, weights: Weights, winner: str | None, why: str) -> None:
    assert vote(cands(spec), weights).winner == winner, why


def test_whitespace_is_ignored_by_default_equivalence() -> None:
    result = vote([Candidate(" 2"), Candidate("2 "), Candidate("3")])
    assert result.winner == " 2"
    assert result.classes[0].members == (0, 1)


def test_equivalence_grouping_with_same() -> None:
    candidates = cands("1/3:T 1/2:U 0.5:U 0.50:U 1/3:F")
    assert vote(candidates).winner == "1/3", "as strings, 1/3 (1.2) beats each 0.5 spelling"
    result = vote(candidates, same=same_number)
    assert result.winner == "1/2", "1/2 ~ 0.5 ~ 0.50 pool to 1.5 > 1.2; first spelling shown"
    half, third = result.classes
    assert half.members == (1, 2, 3) and half.counts == StateCounts(0, 3, 0)
    assert half.score == pytest.approx(1.5)
    assert third.members == (0, 4) and third.score == pytest.approx(1.2)


def test_result_holds_ranked_classes_scores_counts_members() -> None:
    result = vote(cands("7:T 8:U 7:F -:T 8:U 8:F"), DEFAULT_WEIGHTS)
    assert result.winner == "7", "1.2 each; 7 has a True vote"
    assert [c.answer for c in result.classes] == ["7", "8", None]
    seven, eight, missing = result.classes
    assert seven.score == pytest.approx(1.2) and seven.counts == StateCounts(1, 0, 1)
    assert seven.members == (0, 2) and seven.first_index == 0
    assert eight.score == pytest.approx(1.2) and eight.counts == StateCounts(0, 2, 1)
    assert eight.members == (1, 4, 5) and eight.counts.total == 3
    assert missing.members == (3,) and missing.score == pytest.approx(1.0)
    assert result.winning_class is seven and result.weights == DEFAULT_WEIGHTS


def test_candidate_weight_multiplies_state_weight() -> None:
    candidates = [Candidate("a", T, weight=0.1), Candidate("b", U)]
    assert vote(candidates).winner == "b"
    assert vote([Candidate("a", T, weight=0.6), Candidate("b", U)]).winner == "a"


def test_same_is_called_representative_first_and_never_with_none() -> None:
    calls: list[tuple[str, str]] = []

    def recording(a: str, b: str) -> bool:
        calls.append((a, b))
        return a == b

    group_answers(cands("x:U -:U y:U x:U"), recording)
    assert calls == [("x", "y"), ("x", "x")]


def test_group_ids_number_classes_by_first_appearance() -> None:
    assert group_answers(cands("b:U -:U a:U b:U a:U")) == (0, -1, 1, 0, 1)


# --- properties --------------------------------------------------------------------------------

answers = st.one_of(st.none(), st.sampled_from(["1", "2", "3", "1/2", "0.5"]))
states = st.sampled_from([T, U, F])
candidate_lists = st.lists(st.builds(Candidate, answers, states), max_size=12)
valid_weights = (
    st.tuples(st.floats(0, 10), st.floats(0, 10), st.floats(0, 10))
    .filter(lambda w: w[0] > w[1] > w[2])
    .map(lambda w: Weights(*w))
)


def _answered(result_classes: tuple) -> list:
    return [c for c in result_classes if c.answer is not None]


@given(candidate_lists, st.floats(0.01, 100))
def test_all_equal_weights_is_plain_majority(candidates: list[Candidate], w: float) -> None:
    weighted, plain = vote(candidates, Weights(w, w, w)), plain_majority(candidates)
    assert weighted.winner == plain.winner
    assert [c.members for c in weighted.classes] == [c.members for c in plain.classes]
    answered = _answered(plain.classes)
    if answered:
        assert plain.winning_class.counts.total == max(c.counts.total for c in answered)


@given(candidate_lists, valid_weights | st.just(DEFAULT_WEIGHTS))
def test_adding_a_true_vote_for_the_winner_keeps_it(
    candidates: list[Candidate], weights: Weights
) -> None:
    before = vote(candidates, weights)
    if before.winner is not None:
        after = vote([*candidates, Candidate(before.winner, T)], weights)
        assert after.winner == before.winner


@given(candidate_lists, valid_weights | st.just(DEFAULT_WEIGHTS))
def test_winner_has_the_top_score(candidates: list[Candidate], weights: Weights) -> None:
    result = vote(candidates, weights, same=same_number)
    answered = _answered(result.classes)
    assert (result.winner is None) == (not answered)
    if answered:
        assert result.winning_class.score == pytest.approx(max(c.score for c in answered))


grid_weights = (
    st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(0, 20))
    .filter(lambda w: w[0] > w[1] > w[2])
    .map(lambda w: Weights(w[0] / 8, w[1] / 8, w[2] / 8))
)


@given(candidate_lists, grid_weights)
def test_doubling_weights_changes_nothing(candidates: list[Candidate], weights: Weights) -> None:
    doubled = Weights(2 * weights.true, 2 * weights.uncertain, 2 * weights.false)
    assert vote(candidates, weights).classes == tuple(
        type(c)(c.answer, c.score / 2, c.counts, c.members)
        for c in vote(candidates, doubled).classes
    )


# --- pass@k and curves -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 0, 1, 0.0),
        (5, 5, 1, 1.0),
        (5, 2, 1, 0.4),
        (5, 1, 2, 0.4),
        (4, 2, 3, 1.0),
        (16, 1, 16, 1.0),
        (10, 3, 2, 1 - 21 / 45),
    ],
)
def test_pass_at_k(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, 1, 0), (5, 1, 6), (5, -1, 1)])
def test_pass_at_k_rejects(n: int, c: int, k: int) -> None:
    with pytest.raises(ConfigError):
        pass_at_k(n, c, k)


PROBLEMS = [cands("x:F x:F y:T x:U"), cands("4:U 5:U 4:T -:U"), cands("a:U b:U c:U d:U")]
GOLD = ["y", "4", "z"]


def gold(p: int, answer: str) -> bool:
    return answer == GOLD[p]


def test_curve_k1_and_full_k_are_exact() -> None:
    points = voting_curve(PROBLEMS, gold, ks=[1, 4], weights=DEFAULT_WEIGHTS)
    k1, k4 = points
    assert k1.exact and k4.exact and k1.subsets == 12 and k4.subsets == 3
    assert k1.accuracy == pytest.approx((1 / 4 + 2 / 4 + 0) / 3)
    full = [vote(c, DEFAULT_WEIGHTS).winner == g for c, g in zip(PROBLEMS, GOLD, strict=True)]
    assert k4.accuracy == pytest.approx(sum(full) / 3)
    assert k1.pass_at_k == pytest.approx(k1.accuracy)
    assert k4.pass_at_k == pytest.approx(2 / 3)


def test_weighted_beats_plain_when_the_true_vote_is_right() -> None:
    weighted = voting_curve(PROBLEMS[:1], gold, ks=[4])[0]
    plain = voting_curve(PROBLEMS[:1], gold, ks=[4], weights=PLAIN_WEIGHTS)[0]
    assert weighted.accuracy == 1.0 and plain.accuracy == 0.0


def test_curve_matches_brute_force_enumeration() -> None:
    k = 2
    expected = 0.0
    for candidates, answer in zip(PROBLEMS, GOLD, strict=True):
        subsets = list(combinations(candidates, k))
        expected += sum(vote(list(s)).winner == answer for s in subsets) / len(subsets)
    assert voting_curve(PROBLEMS, gold, ks=[k])[0].accuracy == pytest.approx(expected / 3)


def test_curve_calls_correct_once_per_class() -> None:
    calls: list[tuple[int, str]] = []

    def counting(p: int, answer: str) -> bool:
        calls.append((p, answer))
        return gold(p, answer)

    voting_curve(PROBLEMS, counting, ks=[1, 2, 3])
    assert sorted(calls) == sorted(
        {(0, "x"), (0, "y"), (1, "4"), (1, "5"), (2, "a"), (2, "b"), (2, "c"), (2, "d")}
    )


def test_curve_samples_reproducibly_when_enumeration_is_too_big() -> None:
    big = [[Candidate(str(i % 3), [T, U, F][i % 4 % 3]) for i in range(30)]]
    first = voting_curve(big, lambda p, a: a == "1", ks=[15], trials=50, seed=7)[0]
    again = voting_curve(big, lambda p, a: a == "1", ks=[15], trials=50, seed=7)[0]
    assert first == again and not first.exact and first.subsets == 50


@pytest.mark.parametrize("ks", [[0], [5], [1, 9]])
def test_curve_rejects_k_outside_samples(ks: list[int]) -> None:
    with pytest.raises(ConfigError, match=r"outside 1\.\.4"):
        voting_curve(PROBLEMS, gold, ks=ks)


def test_curve_rejects_no_problems_and_no_trials() -> None:
    with pytest.raises(ConfigError):
        voting_curve([], gold, ks=[1])
    with pytest.raises(ConfigError):
        voting_curve(PROBLEMS, gold, ks=[1], trials=0)


@settings(max_examples=60)
@given(
    st.lists(
        st.lists(st.builds(Candidate, answers, states), min_size=1, max_size=6),
        min_size=1,
        max_size=4,
    ),
    st.integers(1, 6),
)
def test_pass_at_k_bounds_voting_accuracy(problems: list[list[Candidate]], k: int) -> None:
    k = min(k, *(len(p) for p in problems))
    point = voting_curve(problems, lambda p, a: a == "1", ks=[k])[0]
    assert point.exact
    assert 0.0 <= point.accuracy <= point.pass_at_k + 1e-12 <= 1.0 + 1e-12


@settings(max_examples=80)
@given(
    st.lists(
        st.builds(Candidate, answers, states, st.sampled_from([0.5, 1.0, 2.0])),
        min_size=1,
        max_size=7,
    ),
    st.integers(1, 7),
    valid_weights | st.just(DEFAULT_WEIGHTS) | st.just(PLAIN_WEIGHTS),
)
def test_curve_fast_path_agrees_with_vote(
    candidates: list[Candidate], k: int, weights: Weights
) -> None:
    k = min(k, len(candidates))

    def is_half(p: int, answer: str) -> bool:
        return same_number(answer, "1/2")

    subsets = list(combinations(candidates, k))
    expected = sum(
        (w := vote(list(s), weights, same=same_number).winner) is not None and is_half(0, w)
        for s in subsets
    ) / len(subsets)
    point = voting_curve([candidates], is_half, ks=[k], weights=weights, same=same_number)[0]
    assert point.accuracy == pytest.approx(expected)


def test_max_exact_switches_to_sampling() -> None:
    point = voting_curve(PROBLEMS, gold, ks=[2], trials=3, max_exact=0)[0]
    assert not point.exact and point.subsets == 9
