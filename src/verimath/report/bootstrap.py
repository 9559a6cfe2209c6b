"""Percentile bootstrap intervals over problems (the unit that was sampled from the benchmark).

A figure is a ratio of sums over problems, ``sum(num_i) / sum(den_i)``: accuracy of a vote is
``num_i`` = 1 if problem i's vote is correct, ``den_i`` = 1; single-sample accuracy is
``num_i`` = correct samples of problem i, ``den_i`` = its samples (so all samples of a problem
stay together in a resample); precision of the verification state True is ``num_i`` = True and
correct samples, ``den_i`` = True samples. Each resample draws as many problems as there are,
with replacement, and recomputes the ratio; the interval is the 2.5th and 97.5th percentile of
the resampled ratios. The random generator is numpy's PCG64 seeded by ``seed``: the same inputs
give the same interval, and two runs over the same problems are resampled identically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from verimath.errors import ConfigError
from verimath.report.section_data import EstimateDict

__all__ = ["DEFAULT_RESAMPLES", "Bootstrap", "Estimate"]

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
_CELLS_PER_CHUNK = 4_000_000  # resample indices held in memory at once


@dataclass(frozen=True)
class Estimate:
    """A ratio with its bootstrap interval; NaN everywhere when there is no data."""

    value: float
    low: float
    high: float
    n: int
    """Problems the ratio is over."""
    count: float = 0.0
    """The denominator's sum (samples, votes, True samples, ...)."""

    def to_dict(self) -> EstimateDict:
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else round(x, 6)

        return {
            "value": clean(self.value),
            "low": clean(self.low),
            "high": clean(self.high),
            "n": self.n,
            "count": self.count,
        }

    def percent(self, interval: bool = True) -> str:
        """``"73.5 (70.1–76.8)"``, or ``"–"`` without data."""
        if math.isnan(self.value):
            return "–"
        text = f"{100 * self.value:.1f}"
        if interval and not math.isnan(self.low):
            text += f" ({100 * self.low:.1f}–{100 * self.high:.1f})"
        return text


@dataclass(frozen=True)
class Bootstrap:
    """How intervals are computed: resamples, seed and confidence level."""

    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        if self.resamples < 0:
            raise ConfigError(f"bootstrap resamples must be >= 0, got {self.resamples}")
        if not 0 < self.confidence < 1:
            raise ConfigError(f"confidence must be between 0 and 1, got {self.confidence}")

    def ratio(self, numerators: Sequence[float], denominators: Sequence[float]) -> Estimate:
        """``sum(numerators) / sum(denominators)`` with its interval (module doc)."""
        num = np.asarray(numerators, dtype=float)
        den = np.asarray(denominators, dtype=float)
        n, total = len(num), float(den.sum())
        if n == 0 or total == 0:
            return Estimate(math.nan, math.nan, math.nan, n, total)
        value = float(num.sum() / total)
        if self.resamples == 0:
            return Estimate(value, math.nan, math.nan, n, total)
        ratios = self._resampled(num, den)
        tail = 100 * (1 - self.confidence) / 2
        low, high = np.nanpercentile(ratios, [tail, 100 - tail])
        return Estimate(value, float(low), float(high), n, total)

    def mean(self, values: Sequence[float]) -> Estimate:
        """The mean of per-problem values with its interval."""
        return self.ratio(values, [1.0] * len(values))

    def _resampled(self, num: np.ndarray, den: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        n = len(num)
        chunk = max(1, _CELLS_PER_CHUNK // n)
        ratios = []
        for start in range(0, self.resamples, chunk):
            size = min(chunk, self.resamples - start)
            picks = rng.integers(0, n, size=(size, n))
            with np.errstate(invalid="ignore", divide="ignore"):
                ratios.append(num[picks].sum(axis=1) / den[picks].sum(axis=1))
        return np.concatenate(ratios)
