"""Tests for verimath.tuning: the grid, the split, the choice of weights, the bootstrap."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verimath.errors import ConfigError, InputError
from verimath.tuning import heldout_gain, tune_weights, weight_grid
from verimath.verification import VerificationState
from verimath.voting import DEFAULT_WEIGHTS, PLAIN_WEIGHTS, Candidate, Weights, vote

T, U, F = VerificationState.TRUE, VerificationState.UNCERTAIN, VerificationState.FALSE


def verified_minority(count: int) -> list[tuple[list[Candidate], list[bool]]]:
    """Problems where two verified votes for the right answer face three unverified wrong ones
    (weighted voting wins), and problems that every weighting gets right."""
    hard = [Candidate("right", T)] * 2 + [Candidate("wrong", U)] * 3
    easy = [Candidate("right", U)] * 3 + [Candidate("wrong", F)]
    problems = []
    for i in range(count):
        candidates = hard if i % 2 else easy
        problems.append((candidates, [c.answer == "right" for c in candidates]))
    return problems


def test_grid_is_valid_ordered_and_starts_with_the_default() -> None:
    grid = weight_grid()
    assert grid[0] == DEFAULT_WEIGHTS and grid[1] == PLAIN_WEIGHTS
    assert len(grid) == len(set(grid)) == 46  # 45 pairs 1 > u > f >= 0 on 0.1, + plain
    assert all(w.true == 1.0 and (w.is_plain or w.true > w.uncertain > w.false) for w in grid)
    assert len(weight_grid(0.5)) == 3  # default, plain, (1, 0.5, 0)
    with pytest.raises(ConfigError):
        weight_grid(0.3)


def test_tuning_finds_weights_that_beat_plain_voting() -> None:
    result = tune_weights(verified_minority(200), seed=1)
    assert not result.weights.is_plain
    assert result.heldout_plain_accuracy == pytest.approx(0.5, abs=0.1)
    assert result.heldout_accuracy == 1.0
    assert result.gain == pytest.approx(result.heldout_accuracy - result.heldout_plain_accuracy)
    low, high = result.gain_ci
    assert 0 < low <= result.gain <= high
    assert result.heldout_flips[0] == round(result.gain * result.heldout_problems)
    assert result.heldout_flips[1] == 0
    assert result.dev_problems + result.heldout_problems == 200


def test_misleading_verification_makes_plain_voting_win() -> None:
    # the verified answer is the wrong one: every non-plain weighting loses these problems
    candidates = [Candidate("wrong", T)] * 2 + [Candidate("right", U)] * 3
    problems = [(candidates, [c.answer == "right" for c in candidates])] * 20
    result = tune_weights(problems)
    assert result.weights == PLAIN_WEIGHTS
    assert result.gain == 0.0 and result.gain_ci == (0.0, 0.0)


def test_ties_go_to_the_earliest_grid_entry() -> None:
    candidates = [Candidate("right", U)] * 2
    problems = [(candidates, [True, True])] * 6
    grid = [Weights(1.0, 0.9, 0.1), PLAIN_WEIGHTS, DEFAULT_WEIGHTS]
    result = tune_weights(problems, grid=grid)
    assert result.weights == grid[0]
    assert [w for w, _ in result.grid] == grid
    assert {accuracy for _, accuracy in result.grid} == {1.0}


def test_split_is_seeded_and_sized() -> None:
    problems = verified_minority(40)
    first = tune_weights(problems, dev_fraction=0.25, seed=3)
    assert (first.dev_problems, first.heldout_problems) == (10, 30)
    assert first == tune_weights(problems, dev_fraction=0.25, seed=3)
    assert tune_weights(problems[:2], dev_fraction=0.01).dev_problems == 1  # never empty
    assert tune_weights(problems[:2], dev_fraction=0.99).heldout_problems == 1


def test_a_correctness_function_gives_the_same_result_as_verdicts() -> None:
    problems = verified_minority(30)
    as_function = [(c, lambda answer: answer == "right") for c, _ in problems]
    assert tune_weights(as_function, seed=2) == tune_weights(problems, seed=2)


def test_classes_use_the_equivalence_and_the_first_member_verdict() -> None:
    # '0.5' and '1/2' are one class (3 votes) and its first member is graded right
    candidates = [Candidate("0.5"), Candidate("1/2"), Candidate("7"), Candidate("7")]
    verdicts = [True, False, False, False]

    def same(a: str, b: str) -> bool:
        return {a, b} <= {"0.5", "1/2"} or a == b

    result = tune_weights([(candidates, verdicts)] * 4, grid=[PLAIN_WEIGHTS], same=same)
    assert result.heldout_accuracy == 1.0
    alone = tune_weights([(candidates, verdicts)] * 4, grid=[PLAIN_WEIGHTS])
    assert alone.heldout_accuracy == 0.0  # without it '7' wins 2-1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"problems": verified_minority(1)}, ConfigError),
        ({"dev_fraction": 0.0}, ConfigError),
        ({"dev_fraction": 1.0}, ConfigError),
        ({"grid": []}, ConfigError),
        ({"bootstrap": 0}, ConfigError),
        ({"confidence": 1.0}, ConfigError),
        ({"problems": [([Candidate("a")], [True, False])] * 3}, InputError),
        ({"problems": [([], [])] * 3}, InputError),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, error: type[Exception]) -> None:
    arguments = {"problems": verified_minority(4)} | kwargs
    with pytest.raises(error):
        tune_weights(**arguments)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.sampled_from(["a", "b", "c", None]), st.sampled_from([T, U, F])),
            min_size=1,
            max_size=6,
        ),
        min_size=2,
        max_size=12,
    ),
    st.integers(0, 5),
)
def test_reported_accuracies_are_those_of_vote(samples: list, seed: int) -> None:
    problems = []
    for sample in samples:
        candidates = [Candidate(a, s) for a, s in sample]
        problems.append((candidates, [a == "a" for a, _ in sample]))
    result = tune_weights(problems, seed=seed, bootstrap=50)
    order = list(range(len(problems)))
    random.Random(seed).shuffle(order)
    heldout = sorted(order[result.dev_problems :])

    def accuracy(weights: Weights) -> float:
        wins = [vote(problems[i][0], weights).winner == "a" for i in heldout]
        return sum(wins) / len(wins)

    assert result.heldout_accuracy == pytest.approx(accuracy(result.weights))
    assert result.heldout_plain_accuracy == pytest.approx(accuracy(PLAIN_WEIGHTS))
    assert max(a for _, a in result.grid) == result.dev_accuracy


def test_bootstrap_matches_resampling_problems() -> None:
    rng = random.Random(0)
    tuned = [rng.random() < 0.7 for _ in range(300)]
    plain = [rng.random() < 0.6 for _ in range(300)]
    gain, (low, high) = heldout_gain(tuned, plain, bootstrap=4000, seed=1)
    diffs = np.array(tuned, dtype=int) - np.array(plain, dtype=int)
    resampled = np.random.default_rng(2).choice(diffs, size=(4000, len(diffs))).mean(axis=1)
    naive_low, naive_high = np.percentile(resampled, [2.5, 97.5])
    assert gain == pytest.approx(diffs.mean())
    assert low == pytest.approx(naive_low, abs=0.01) and high == pytest.approx(naive_high, abs=0.01)
    assert low < gain < high
    with pytest.raises(ConfigError):
        heldout_gain([True], [True, False])
