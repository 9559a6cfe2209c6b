"""Verification state against correctness (the paper's Figure 6a): confusion matrix,
precision and recall of the state True as a predictor of a correct answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from verimath.report.bootstrap import Bootstrap, Estimate
from verimath.report.model import Plot, Section, Table
from verimath.report.runs import Run, SampleRow
from verimath.report.section_data import VerificationFigures
from verimath.verification import VerificationState

__all__ = ["GRADES", "STATES", "verification_section"]

STATES = ("True", "Uncertain", "False")
GRADES = ("correct", "incorrect", "unparseable", "timeout")

TEXT = (
    "Every sample's verification state (read off its trajectory, see docs/verification.md) "
    "against its grade. Precision: the share of samples verified True whose answer is "
    "correct (the paper reports about 95.9% for GPT-4 Code Interpreter). Recall: the share of "
    "correct samples that were verified True. 'False → wrong' is the share of samples "
    "verified False whose answer is not correct. Intervals: bootstrap over problems."
)


def verification_section(runs: Sequence[Run], boot: Bootstrap) -> Section:
    data: dict[str, VerificationFigures] = {}
    matrix_rows, score_rows = [], []
    for run in runs:
        samples = run.all_samples()
        counts = {st: {g: _count(samples, st, g) for g in GRADES} for st in STATES}
        scores = _scores(run, boot)
        data[run.label] = {
            "counts": counts,
            "precision": scores["precision"].to_dict(),
            "recall": scores["recall"].to_dict(),
            "false_detects_wrong": scores["false_detects_wrong"].to_dict(),
            "share_true": scores["share_true"].to_dict(),
            "share_false": scores["share_false"].to_dict(),
        }
        for state in STATES:
            row = counts[state]
            total = sum(row.values())
            accuracy = f"{100 * row['correct'] / total:.1f}" if total else "–"
            matrix_rows.append(
                (run.label, state, *(str(row[g]) for g in GRADES), str(total), accuracy)
            )
        score_rows.append((run.label, *(scores[name].percent() for name in scores)))
    tables = (
        Table(
            "Verification state × grade (samples)",
            ("run", "state", *GRADES, "total", "accuracy %"),
            tuple(matrix_rows),
        ),
        Table(
            "Verification as a classifier of correctness (%)",
            (
                "",
                "precision (True → correct)",
                "recall (correct → True)",
                "False → wrong",
                "share True",
                "share False",
            ),
            tuple(score_rows),
        ),
    )
    plots = (Plot("verification", "verification", "Verification state against correctness"),)
    return Section("verification", "Verification", TEXT, tables, plots, data)


def _count(samples: Sequence[SampleRow], state: str, grade: str) -> int:
    return sum(s.state == state and s.grade == grade for s in samples)


def _scores(run: Run, boot: Bootstrap) -> dict[str, Estimate]:
    def ratio(hit: Callable[[SampleRow], bool], base: Callable[[SampleRow], bool]) -> Estimate:
        groups = [run.samples.get(p.problem_id, ()) for p in run.problems]
        groups = [g for g in groups if g]
        return boot.ratio(
            [sum(hit(s) and base(s) for s in g) for g in groups],
            [sum(base(s) for s in g) for g in groups],
        )

    def is_true(s: SampleRow) -> bool:
        return s.state is VerificationState.TRUE

    def is_false(s: SampleRow) -> bool:
        return s.state is VerificationState.FALSE

    def correct(s: SampleRow) -> bool:
        return s.correct

    def anything(s: SampleRow) -> bool:
        return True

    return {
        "precision": ratio(correct, is_true),
        "recall": ratio(is_true, correct),
        "false_detects_wrong": ratio(lambda s: not s.correct, is_false),
        "share_true": ratio(is_true, anything),
        "share_false": ratio(is_false, anything),
    }
