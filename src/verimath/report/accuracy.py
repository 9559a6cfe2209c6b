"""Accuracy overall, per subject and per level, runs as rows (the paper's Table 1)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verimath.grading import Status
from verimath.report.bootstrap import Bootstrap, Estimate
from verimath.report.groups import levels_of, subject_header, subjects_of
from verimath.report.model import Plot, Section, Table
from verimath.report.runs import ProblemRow, Run
from verimath.report.section_data import AccuracyData
from verimath.tally import uncut_vote_grade

__all__ = ["accuracy_section", "voted_label"]

PerProblem = Callable[[ProblemRow], "tuple[float, float] | None"]

TEXT = (
    "One row per run: the accuracy of single samples (every sample counts; a problem's samples "
    "are resampled together), then a row for the same run's weighted majority vote over its k "
    "samples, as stored by the run (weights in the runs table; a run with k = 1 has no voted "
    "row, since a vote over one sample is that sample). Cells: accuracy % with its "
    "{confidence:.0%} bootstrap interval over problems ({resamples} resamples, seed {seed}). "
    "The last column counts the problems of the row; a last row counts those of each column "
    "when all runs hold the same problems. A run with samples cut short (by the token budget, "
    "a 'length' finish, the turn or code limit, or the model's context) has its rows again "
    "without them, marked 'without cut samples'; the vote is then retaken over the samples left."
)
UNCUT = ", without cut samples"


@dataclass(frozen=True)
class _Row:
    label: str
    kind: str  # "samples" or "voted"
    run: Run
    per_problem: PerProblem


def voted_label(run: Run) -> str:
    """The label of a run's voted row, in the paper's words."""
    how = "majority voting" if run.weights.is_plain else "weighted voting"
    return f"{run.label} + {how}, k={run.k}"


def accuracy_section(runs: Sequence[Run], boot: Bootstrap) -> Section:
    rows = [r for run in runs for r in _rows_of(run) if _shown(r)]
    subjects, levels = subjects_of(runs), levels_of(runs)
    groups: list[tuple[str, Callable[[ProblemRow], bool]]] = [("overall", lambda p: True)]
    by_subject = [(s, _is_subject(s)) for s in subjects]
    by_level = [(f"Level {lv}", _is_level(lv)) for lv in levels]
    estimates = {
        (row.label, name): _estimate(row, keep, boot)
        for row in rows
        for name, keep in [*groups, *by_subject, *by_level]
    }
    title = "Accuracy by subject (%)" if subjects else "Accuracy (%)"
    tables = [_table(title, rows, by_subject + groups, estimates, runs)]
    if levels:
        tables.append(_table("Accuracy by level (%)", rows, by_level + groups, estimates, runs))
    if len(runs) > 1:
        tables.append(_paired_table(runs, boot))
    data: AccuracyData = {
        "rows": [
            {
                "label": row.label,
                "short": _short(row),
                "kind": row.kind,
                "run": row.run.label,
                "overall": estimates[(row.label, "overall")].to_dict(),
                "subjects": {s: estimates[(row.label, s)].to_dict() for s, _ in by_subject},
                "levels": {
                    str(lv): estimates[(row.label, f"Level {lv}")].to_dict() for lv in levels
                },
            }
            for row in rows
        ]
    }
    plots = [Plot("accuracy", "accuracy", "Accuracy per run with 95% bootstrap intervals")]
    text = TEXT.format(confidence=boot.confidence, resamples=boot.resamples, seed=boot.seed)
    return Section("accuracy", "Accuracy", text, tuple(tables), tuple(plots), data)


def _short(row: _Row) -> str:
    """The label as the plot shows it: a voted row without its run's label."""
    return row.label if row.kind.startswith("samples") else row.label[len(row.run.label) :]


def _shown(row: _Row) -> bool:
    return row.kind.startswith("samples") or row.run.k > 1


def _rows_of(run: Run) -> list[_Row]:
    """A run's single-sample and voted rows, and both again without its cut samples."""
    rows = [_samples_row(run), _voted_row(run)]
    if any(s.cut for s in run.all_samples()):
        rows += [_uncut_samples_row(run), _uncut_voted_row(run)]
    return rows


def _uncut_samples_row(run: Run) -> _Row:
    def per_problem(p: ProblemRow) -> tuple[float, float] | None:
        samples = [s for s in run.samples.get(p.problem_id, ()) if not s.cut]
        return (sum(s.correct for s in samples), len(samples)) if samples else None

    return _Row(run.label + UNCUT, "samples_uncut", run, per_problem)


def _uncut_voted_row(run: Run) -> _Row:
    def per_problem(p: ProblemRow) -> tuple[float, float] | None:
        vote = run.votes.get(p.problem_id)
        if vote is None:
            return None
        samples = run.samples.get(p.problem_id, ())
        grade = uncut_vote_grade(vote, samples, run.weights)
        return None if grade is None else (float(grade is Status.CORRECT), 1.0)

    return _Row(voted_label(run) + UNCUT, "voted_uncut", run, per_problem)


def _samples_row(run: Run) -> _Row:
    def per_problem(p: ProblemRow) -> tuple[float, float] | None:
        samples = run.samples.get(p.problem_id, ())
        return (sum(s.correct for s in samples), len(samples)) if samples else None

    return _Row(run.label, "samples", run, per_problem)


def _voted_row(run: Run) -> _Row:
    def per_problem(p: ProblemRow) -> tuple[float, float] | None:
        vote = run.votes.get(p.problem_id)
        return (float(vote.correct), 1.0) if vote else None

    return _Row(voted_label(run), "voted", run, per_problem)


def _is_subject(subject: str) -> Callable[[ProblemRow], bool]:
    return lambda p: p.subject == subject


def _is_level(level: int) -> Callable[[ProblemRow], bool]:
    return lambda p: p.level == level


def _estimate(row: _Row, keep: Callable[[ProblemRow], bool], boot: Bootstrap) -> Estimate:
    pairs = [pair for p in row.run.problems if keep(p) and (pair := row.per_problem(p))]
    return boot.ratio([a for a, _ in pairs], [b for _, b in pairs])


def _table(
    title: str,
    rows: Sequence[_Row],
    groups: Sequence[tuple[str, object]],
    estimates: dict[tuple[str, str], Estimate],
    runs: Sequence[Run],
) -> Table:
    """Rows of estimates, the overall problem count last; a bottom row of per-column counts
    when every run holds the same problems."""
    columns = ("", *(subject_header(name) for name, _ in groups), "problems")
    body = [
        (
            row.label,
            *(estimates[(row.label, n)].percent() for n, _ in groups),
            str(estimates[(row.label, "overall")].n),
        )
        for row in rows
    ]
    same_problems = len({tuple(p.problem_id for p in run.problems) for run in runs}) == 1
    if same_problems and len(groups) > 1:
        first = rows[0].label
        body.append(("problems", *(str(estimates[(first, n)].n) for n, _ in groups), ""))
    return Table(title, columns, tuple(body))


def _paired_table(runs: Sequence[Run], boot: Bootstrap) -> Table:
    base = runs[0]
    voted = any(run.k > 1 for run in runs)
    rows = []
    for run in runs[1:]:
        shared = [p for p in run.problems if _comparable(base, run, p)]
        cells = [_signed(boot.mean([_rate(run, p) - _rate(base, p) for p in shared]))]
        if voted:
            cells.append(_signed(boot.mean([_voted(run, p) - _voted(base, p) for p in shared])))
        rows.append((run.label, str(len(shared)), *cells))
    columns = ("", "problems", "single sample", *(("voted",) if voted else ()))
    return Table(
        f"Difference to {base.label} on the problems both runs hold (percentage points)",
        columns,
        tuple(rows),
        "Paired bootstrap: problems are resampled once for both runs.",
    )


def _comparable(base: Run, run: Run, problem: ProblemRow) -> bool:
    pid = problem.problem_id
    return all(pid in r.samples and pid in r.votes for r in (base, run))


def _rate(run: Run, problem: ProblemRow) -> float:
    samples = run.samples[problem.problem_id]
    return sum(s.correct for s in samples) / len(samples)


def _voted(run: Run, problem: ProblemRow) -> float:
    return float(run.votes[problem.problem_id].correct)


def _signed(estimate: Estimate) -> str:
    if math.isnan(estimate.value):
        return "–"
    low, high = estimate.low, estimate.high
    interval = "" if math.isnan(low) else f" ({100 * low:+.1f} to {100 * high:+.1f})"
    return f"{100 * estimate.value:+.1f}{interval}"
