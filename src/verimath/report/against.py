"""The "agreement with another harness" section: a run's grades against outside labels.

The labels file is JSON lines, one per graded sample::

    {"problem_id": "test/algebra/1.json", "sample_index": 0, "correct": true, "answer": "18"}

``sample_index`` defaults to 0; ``correct`` is a verdict as harnesses write it (true/false,
1/0, "correct"/"incorrect"); ``answer`` (the answer the other harness extracted) is optional
and lets extraction differences be told from rule differences.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from verimath.bounded import BoundsExceeded, loads_json, read_lines
from verimath.errors import InputError
from verimath.grading import Grader
from verimath.grading.agreement import Agreement, Labelled, explain, read_label
from verimath.report.model import Section, Table
from verimath.report.runs import Run

__all__ = ["Label", "against_section", "read_labels"]

LabelKey = tuple[str, int]
"""(problem id, sample index)."""


@dataclass(frozen=True)
class Label:
    """Another harness's verdict on one sample, and the answer it read, if recorded."""

    correct: bool
    answer: str | None = None


def read_labels(path: Path) -> dict[LabelKey, Label]:
    """Every label of a labels file (see the module docstring), by (problem, sample).

    Raises:
        InputError: a line is not a JSON object with a problem id and a verdict, or the
            file cannot be read.
    """
    labels: dict[LabelKey, Label] = {}
    for number, line in _lines(path):
        key, label = _label(line, number, str(path))
        labels[key] = label
    return labels


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        for number, line in read_lines(path):
            if line.strip():
                yield number, line
    except BoundsExceeded as exc:
        raise InputError(
            f"{exc}; give a smaller labels file", path=str(path), line=exc.line
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot be read ({exc.strerror}); check the --against path", path=str(path)
        ) from None


def _label(line: str, number: int, path: str) -> tuple[LabelKey, Label]:
    try:
        data = loads_json(line)
    except (ValueError, BoundsExceeded) as exc:
        raise InputError(f"not a JSON line ({exc})", path=path, line=number) from None
    if not isinstance(data, dict) or not isinstance(data.get("problem_id"), str | int):
        raise InputError(
            'each line must be an object with "problem_id", "correct" and optionally '
            '"sample_index" and "answer"',
            path=path,
            line=number,
        )
    index = data.get("sample_index", 0)
    if isinstance(index, bool) or not isinstance(index, int):
        raise InputError("must be a whole number", path=path, line=number, field="sample_index")
    verdict = read_label(data.get("correct"))
    if verdict is None:
        raise InputError(
            f"{data.get('correct')!r} is not a verdict; use true/false, 1/0 or correct/incorrect",
            path=path,
            line=number,
            field="correct",
        )
    answer = data.get("answer")
    label = Label(verdict, None if answer is None else str(answer))
    return (str(data["problem_id"]), index), label


def against_section(
    run: Run, labels: dict[LabelKey, Label], source: str, grader: Grader
) -> Section:
    """Agreement of ``run``'s grades with ``labels`` (from ``source``), disagreements by cause."""
    items = list(_labelled(run, labels))
    agreement = explain(grader, items)
    unmatched = len(labels) - len(items)
    text = (
        f"The run's grades against the verdicts in {source} for the same samples: "
        f"{len(items)} samples carry a label"
        + (f" ({unmatched} labels name no sample of this run)" if unmatched else "")
        + ". Every disagreement is in exactly one group: timeout, extraction found nothing, "
        "extraction found a different span (the other harness's own answer, graded by "
        "verimath, gets its verdict), units, numeric tolerance, sets and order, or the "
        "verimath rule that decided."
    )
    return Section(
        "against",
        f"Agreement with {source}",
        text,
        (_counts_table(agreement), _groups_table(agreement), _examples_table(agreement)),
        data=agreement.to_dict(),
    )


def _labelled(run: Run, labels: dict[LabelKey, Label]) -> Iterator[Labelled]:
    for problem in run.problems:
        for sample in run.samples.get(problem.problem_id, ()):
            label = labels.get((problem.problem_id, sample.sample_index))
            if label is None:
                continue
            yield Labelled(
                f"problem {problem.problem_id} sample {sample.sample_index}",
                problem.gold,
                sample.answer,
                problem.dataset,
                sample.grade,
                label.correct,
                label.answer,
            )


def _counts_table(agreement: Agreement) -> Table:
    total = agreement.total
    rows = (
        ("agree", str(agreement.agreed), _percent(agreement.agreed, total)),
        ("both correct", str(agreement.both_correct), _percent(agreement.both_correct, total)),
        ("both not correct", str(agreement.both_not), _percent(agreement.both_not, total)),
        ("only verimath correct", str(agreement.only_ours), _percent(agreement.only_ours, total)),
        (
            "only the other correct",
            str(agreement.only_theirs),
            _percent(agreement.only_theirs, total),
        ),
        ("labelled samples", str(total), "100%" if total else "–"),
    )
    return Table("Agreement", ("", "samples", "share"), rows)


def _groups_table(agreement: Agreement) -> Table:
    rows = tuple((group.cause, str(group.count)) for group in agreement.groups)
    note = "" if rows else "No disagreements."
    return Table("Disagreements by cause", ("cause", "samples"), rows, note)


def _examples_table(agreement: Agreement) -> Table:
    rows = tuple(
        (
            group.cause,
            example.record,
            example.gold,
            example.answer or "–",
            example.their_answer or "–",
            f"{example.ours} ({example.rule})",
            example.theirs,
        )
        for group in agreement.groups
        for example in group.examples
    )
    columns = ("cause", "sample", "gold", "verimath answer", "their answer", "verimath", "other")
    return Table("Examples of each cause", columns, rows, "" if rows else "No disagreements.")


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"
