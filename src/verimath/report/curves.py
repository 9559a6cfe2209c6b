"""Voting curves (the paper's Figure 6b): accuracy of weighted and plain majority voting over
k of a run's samples, for k = 1..K, averaged over sample subsets, and unbiased pass@k."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from verimath.grading import known_rules
from verimath.report.model import Plot, Section, Table
from verimath.report.runs import ProblemRow, Run
from verimath.report.section_data import VotingCurves
from verimath.verification import VerificationState
from verimath.voting import PLAIN_WEIGHTS, Candidate, Weights, group_answers, voting_curve

__all__ = ["DEFAULT_TRIALS", "Equivalent", "voting_section"]

DEFAULT_TRIALS = 200
"""Random k-subsets voted on per problem and k when there are more than ``max_exact``."""
DEFAULT_MAX_EXACT = 2000

Equivalent = Callable[[str, str, "str | None"], bool]
"""``equivalent(a, b, dataset)``: the grader's answer equivalence."""

TEXT = (
    "From the one set of K samples per problem: for each k, the accuracy of voting over k "
    "of them, averaged over all k-subsets when there are at most {max_exact} (else over "
    "{trials} random subsets, seeded), then over problems. Answers are grouped into classes "
    "by the grader's equivalence, once per problem; a class is correct when its samples' "
    "grade is. Weighted voting uses the run's weights; plain voting counts every vote once. "
    "pass@k is the unbiased estimator 1 - C(n-c, k)/C(n, k). Only problems with all K samples "
    "count; where all of a problem's samples agree, every subset elects that answer, so it is "
    "counted without voting. At k = K the weighted curve equals the run's stored vote."
)


def voting_section(
    runs: Sequence[Run],
    equivalent: Equivalent,
    *,
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    max_exact: int = DEFAULT_MAX_EXACT,
) -> Section:
    data: dict[str, VotingCurves] = {}
    tables = []
    for run in runs:
        if run.k < 2:
            continue
        curves = _curves(run, equivalent, trials, seed, max_exact)
        if curves is None:
            continue
        data[run.label] = curves
        tables.append(_table(run, curves))
    text = TEXT.format(max_exact=max_exact, trials=trials)
    if not data:
        text += " No run here has two or more samples per problem, so there is no curve."
        return Section("voting", "Voting curves", text, data={})
    plot = Plot("voting", "voting", "Voting accuracy and pass@k against k")
    return Section("voting", "Voting curves", text, tuple(tables), (plot,), data)


def _curves(
    run: Run, equivalent: Equivalent, trials: int, seed: int, max_exact: int
) -> VotingCurves | None:
    complete = [p for p in run.problems if len(run.samples.get(p.problem_id, ())) == run.k]
    if not complete:
        return None
    same = _ProblemEquivalence(complete, equivalent)
    candidates = [_candidates(run, p) for p in complete]
    grades = [_grades(run, p) for p in complete]
    # one answer class and no missing answer: every subset elects it, at every k (no need
    # to vote on thousands of subsets of the many problems where all samples agree)
    unanimous = [_unanimous(c, same) for c in candidates]
    voted = [i for i, u in enumerate(unanimous) if not u]
    fixed = [
        grades[i][str(candidates[i][0].answer)] == "correct" for i, u in enumerate(unanimous) if u
    ]
    ks = list(range(1, run.k + 1))

    def correct(index: int, answer: str) -> bool:
        return grades[voted[index]].get(answer) == "correct"

    def curve(weights: Weights) -> list[tuple[float, float, bool, int]]:
        if not voted:
            return [(0.0, 0.0, True, 0) for _ in ks]
        points = voting_curve(
            [candidates[i] for i in voted],
            correct,
            ks,
            weights,
            same,
            trials=trials,
            seed=seed,
            max_exact=max_exact,
        )
        return [(p.accuracy, p.pass_at_k, p.exact, p.subsets) for p in points]

    def mean(value: float) -> float:
        return (value * len(voted) + sum(fixed)) / len(complete)

    weighted, plain = curve(run.weights), curve(PLAIN_WEIGHTS)
    return {
        "problems": len(complete),
        "unanimous": len(fixed),
        "skipped": len(run.problems) - len(complete),
        "weights": run.weights.spec(),
        "points": [
            {
                "k": k,
                "weighted": mean(w[0]),
                "plain": mean(p[0]),
                "pass_at_k": mean(w[1]),
                "exact": w[2],
                "subsets": w[3],
            }
            for k, w, p in zip(ks, weighted, plain, strict=True)
        ],
    }


def _unanimous(candidates: list[Candidate], same: Callable[[str, str], bool]) -> bool:
    return all(c.answer is not None for c in candidates) and set(
        group_answers(candidates, same)
    ) == {0}


def _candidates(run: Run, problem: ProblemRow) -> list[Candidate]:
    return [
        Candidate(s.answer, VerificationState(s.state)) for s in run.samples[problem.problem_id]
    ]


def _grades(run: Run, problem: ProblemRow) -> dict[str, str]:
    """Answer string -> grade of the first sample giving it (any member's grade serves)."""
    found: dict[str, str] = {}
    for sample in run.samples[problem.problem_id]:
        if sample.answer is not None:
            found.setdefault(sample.answer, sample.grade)
    return found


class _ProblemEquivalence:
    """``same(a, b)`` for ``voting_curve``: the grader's equivalence, cached by answer pair.

    Equivalence depends on the answers and the dataset's rules only, so one cache serves
    every problem of a run. A run's problems share one dataset (its ``dataset`` column); were
    they mixed, the default rules apply.
    """

    def __init__(self, problems: Sequence[ProblemRow], equivalent: Equivalent) -> None:
        datasets = {p.dataset for p in problems}
        self._dataset = known_rules(datasets.pop()) if len(datasets) == 1 else None
        self._equivalent = equivalent
        self._cache: dict[tuple[str, str], bool] = {}

    def __call__(self, a: str, b: str) -> bool:
        if a == b:
            return True
        key = (a, b) if a <= b else (b, a)
        if key not in self._cache:
            self._cache[key] = self._equivalent(a, b, self._dataset)
        return self._cache[key]


def _table(run: Run, curves: VotingCurves) -> Table:
    rows = tuple(
        (
            str(point["k"]),
            f"{100 * point['weighted']:.1f}",
            f"{100 * point['plain']:.1f}",
            f"{100 * point['pass_at_k']:.1f}",
            "all" if point["exact"] else f"{point['subsets']} sampled",
        )
        for point in curves["points"]
    )
    note = f"{curves['problems']} problems with all {run.k} samples"
    if curves["skipped"]:
        note += f"; {curves['skipped']} with fewer samples left out"
    return Table(
        f"{run.label}: accuracy (%) of voting over k samples (weights {curves['weights']})",
        ("k", "weighted vote", "plain vote", "pass@k", "subsets"),
        rows,
        note,
    )
