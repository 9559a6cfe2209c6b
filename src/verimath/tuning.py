"""Fit the vote weights (w_T, w_U, w_F) on development problems; measure them on held-out ones.

``tune_weights`` splits the problems at random (seeded) into a development and a held-out
part, scores every ``Weights`` of a grid by weighted-vote accuracy on the development part,
keeps the best (ties go to the earliest grid entry; the default grid starts with
``DEFAULT_WEIGHTS``, so the paper-style default stays unless something beats it), and reports
its held-out accuracy against plain majority voting with a paired bootstrap confidence
interval of the difference. Votes are cast by ``voting.vote`` itself. Pure: no I/O, no global
state; ``verimath tune-weights RUN`` wraps it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from verimath.errors import ConfigError, InputError
from verimath.voting import (
    DEFAULT_WEIGHTS,
    PLAIN_WEIGHTS,
    Candidate,
    Weights,
    exact_match,
    group_answers,
    vote,
)

__all__ = [
    "Correctness",
    "TuningResult",
    "heldout_gain",
    "tune_weights",
    "weight_grid",
]

Same = Callable[[str, str], bool]
Correctness = Sequence[bool] | Callable[[str], bool]
"""Per-candidate verdicts (as graded), or a function telling whether an answer is right."""
DEFAULT_BOOTSTRAP = 10_000
DEFAULT_CONFIDENCE = 0.95


def weight_grid(step: float = 0.1) -> tuple[Weights, ...]:
    """``DEFAULT_WEIGHTS``, ``PLAIN_WEIGHTS``, then every ``1 > w_U > w_F >= 0`` on ``step``.

    ``w_T`` is fixed at 1: scaling all three weights by the same factor never changes a vote.
    """
    steps = round(1 / step)
    if steps < 2 or not math.isclose(steps * step, 1.0):
        raise ConfigError(f"grid step {step!r} must divide 1 into at least 2 steps, e.g. 0.1")
    grid = [DEFAULT_WEIGHTS, PLAIN_WEIGHTS]
    for u in range(1, steps):
        for f in range(u):
            weights = Weights(1.0, round(u / steps, 12), round(f / steps, 12))
            if weights not in grid:
                grid.append(weights)
    return tuple(grid)


@dataclass(frozen=True)
class _Problem:
    """One problem with its answers replaced by class labels, and each class's verdict."""

    labelled: tuple[Candidate, ...]
    label_correct: Mapping[str, bool]

    def correct(self, weights: Weights) -> bool:
        winner = vote(self.labelled, weights).winner
        return winner is not None and self.label_correct[winner]


def _prepare(
    index: int, candidates: Sequence[Candidate], correct: Correctness, same: Same
) -> _Problem:
    if not candidates:
        raise InputError(f"problem {index} has no candidates", field="candidates")
    if not callable(correct) and len(correct) != len(candidates):
        raise InputError(
            f"problem {index}: {len(correct)} verdicts for {len(candidates)} candidates",
            field="correct",
        )
    class_ids = group_answers(candidates, same)
    labelled: list[Candidate] = []
    verdicts: dict[str, bool] = {}
    for position, (candidate, class_id) in enumerate(zip(candidates, class_ids, strict=True)):
        label = None if class_id == -1 else f"#{class_id}"  # grouping labels = same classes
        if label is not None and label not in verdicts:  # a class's verdict is its first's
            answer = str(candidate.answer)
            verdicts[label] = bool(correct(answer) if callable(correct) else correct[position])
        labelled.append(Candidate(label, candidate.state, candidate.weight))
    return _Problem(tuple(labelled), verdicts)


@dataclass(frozen=True)
class TuningResult:
    """Tuned weights and how they did; accuracies are fractions in [0, 1].

    ``gain`` is held-out accuracy of the tuned weights minus that of plain majority voting;
    ``gain_ci`` its paired bootstrap confidence interval (``confidence``, ``bootstrap``
    resamples of the held-out problems). ``heldout_flips`` counts held-out problems the tuned
    weights get right and plain voting wrong, then the reverse. ``grid`` lists every
    candidate with its development accuracy, in grid order.
    """

    weights: Weights
    dev_problems: int
    heldout_problems: int
    dev_accuracy: float
    dev_plain_accuracy: float
    heldout_accuracy: float
    heldout_plain_accuracy: float
    gain: float
    gain_ci: tuple[float, float]
    heldout_flips: tuple[int, int]
    grid: tuple[tuple[Weights, float], ...]
    confidence: float
    bootstrap: int
    seed: int


def tune_weights(
    problems: Sequence[tuple[Sequence[Candidate], Correctness]],
    grid: Sequence[Weights] | None = None,
    dev_fraction: float = 0.5,
    seed: int = 0,
    same: Same = exact_match,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_CONFIDENCE,
) -> TuningResult:
    """Pick the grid weights with the best development accuracy; report them on held-out.

    ``problems`` are ``(candidates, correct)`` pairs: the samples of one problem in their
    order, and per-candidate verdicts or a function of an answer (e.g. wrapping
    ``Grader.grade`` with the gold answer). Answers are grouped once with ``same``.
    """
    grid = weight_grid() if grid is None else tuple(grid)
    _check(len(problems), grid, dev_fraction, bootstrap, confidence)
    prepared = [_prepare(i, c, ok, same) for i, (c, ok) in enumerate(problems)]
    order = list(range(len(prepared)))
    random.Random(seed).shuffle(order)
    cut = min(max(round(dev_fraction * len(order)), 1), len(order) - 1)
    dev = [prepared[i] for i in sorted(order[:cut])]
    heldout = [prepared[i] for i in sorted(order[cut:])]
    scored = tuple((w, _accuracy(dev, w)) for w in grid)
    best = max(scored, key=lambda pair: pair[1])[0]  # max keeps the first of equal scores
    tuned = [p.correct(best) for p in heldout]
    plain = [p.correct(PLAIN_WEIGHTS) for p in heldout]
    gain, ci = heldout_gain(tuned, plain, bootstrap, confidence, seed)
    return TuningResult(
        best,
        len(dev),
        len(heldout),
        _accuracy(dev, best),
        _accuracy(dev, PLAIN_WEIGHTS),
        sum(tuned) / len(tuned),
        sum(plain) / len(plain),
        gain,
        ci,
        _flips(tuned, plain),
        scored,
        confidence,
        bootstrap,
        seed,
    )


def _check(
    count: int, grid: Sequence[Weights], dev_fraction: float, bootstrap: int, confidence: float
) -> None:
    if count < 2:
        raise ConfigError(f"tuning needs at least 2 problems (one per split), got {count}")
    if not grid:
        raise ConfigError("the weight grid is empty")
    if not 0 < dev_fraction < 1:
        raise ConfigError(f"dev_fraction must be in (0, 1), got {dev_fraction!r}")
    if bootstrap < 1 or not 0 < confidence < 1:
        raise ConfigError(
            f"bootstrap ({bootstrap}) must be >= 1 and confidence ({confidence}) in (0, 1)"
        )


def _flips(tuned: Sequence[bool], plain: Sequence[bool]) -> tuple[int, int]:
    """(right only with the tuned weights, right only with plain voting)."""
    pairs = list(zip(tuned, plain, strict=True))
    return sum(t and not p for t, p in pairs), sum(p and not t for t, p in pairs)


def _accuracy(problems: Sequence[_Problem], weights: Weights) -> float:
    return sum(p.correct(weights) for p in problems) / len(problems)


def heldout_gain(
    tuned: Sequence[bool],
    baseline: Sequence[bool],
    bootstrap: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> tuple[float, tuple[float, float]]:
    """Accuracy difference ``tuned - baseline`` over paired problems, and its bootstrap CI.

    The paired bootstrap resamples problems with replacement. The mean difference depends
    only on how many resampled problems have difference -1, 0 and +1, so each resample is
    drawn as one multinomial: the same distribution as resampling indices, much faster.
    The interval is the percentile interval at ``confidence``.
    """
    if not tuned or len(tuned) != len(baseline):
        raise ConfigError(f"need paired verdicts, got {len(tuned)} and {len(baseline)}")
    diffs = [int(bool(t)) - int(bool(b)) for t, b in zip(tuned, baseline, strict=True)]
    size = len(diffs)
    shares = [diffs.count(-1) / size, diffs.count(0) / size, diffs.count(1) / size]
    counts = np.random.default_rng(seed).multinomial(size, shares, size=bootstrap)
    means = (counts[:, 2] - counts[:, 0]) / size
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return sum(diffs) / size, (float(low), float(high))
