"""Bootstrap intervals: the estimate, the interval's width against the normal approximation,
seeding, and the edge cases."""

from __future__ import annotations

import math
import random

import pytest

from verimath.errors import ConfigError
from verimath.report.bootstrap import Bootstrap


def test_ratio_of_sums_keeps_a_problems_samples_together() -> None:
    estimate = Bootstrap(200).ratio([1, 2, 4], [2, 4, 4])
    assert estimate.value == pytest.approx(0.7)
    assert estimate.n == 3 and estimate.count == 10
    assert estimate.low <= estimate.value <= estimate.high


def test_interval_matches_the_normal_approximation_for_a_proportion() -> None:
    rng = random.Random(7)
    values = [float(rng.random() < 0.7) for _ in range(400)]
    estimate = Bootstrap(2000, seed=3).mean(values)
    p = estimate.value
    half = 1.96 * math.sqrt(p * (1 - p) / len(values))
    assert estimate.low == pytest.approx(p - half, abs=0.01)
    assert estimate.high == pytest.approx(p + half, abs=0.01)
    narrower = Bootstrap(2000, seed=3, confidence=0.8).mean(values)
    assert estimate.low < narrower.low < p < narrower.high < estimate.high


def test_seeded_and_reproducible() -> None:
    rng = random.Random(1)
    values = [rng.random() for _ in range(30)]
    first, again = Bootstrap(500, seed=1).mean(values), Bootstrap(500, seed=1).mean(values)
    assert (first.low, first.high) == (again.low, again.high)
    other = Bootstrap(500, seed=2).mean(values)
    assert (other.low, other.high) != (first.low, first.high)
    assert other.value == first.value


def test_constant_data_and_no_data() -> None:
    ones = Bootstrap(100).mean([1.0] * 5)
    assert (ones.value, ones.low, ones.high) == (1.0, 1.0, 1.0)
    assert ones.percent() == "100.0 (100.0–100.0)"
    empty = Bootstrap(100).mean([])
    assert math.isnan(empty.value) and empty.percent() == "–"
    assert empty.to_dict()["value"] is None
    plain = Bootstrap(0).mean([1.0, 0.0])
    assert plain.value == 0.5 and math.isnan(plain.low) and plain.percent() == "50.0"


def test_chunks_give_the_same_answer_as_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [float(i % 3 == 0) for i in range(50)]
    whole = Bootstrap(300, seed=5).mean(values)
    monkeypatch.setattr("verimath.report.bootstrap._CELLS_PER_CHUNK", 50 * 7)
    chunked = Bootstrap(300, seed=5).mean(values)
    assert (whole.low, whole.high) == (chunked.low, chunked.high)


@pytest.mark.parametrize(("resamples", "confidence"), [(-1, 0.95), (10, 0.0), (10, 1.0)])
def test_bad_settings(resamples: int, confidence: float) -> None:
    with pytest.raises(ConfigError):
        Bootstrap(resamples, confidence=confidence)
