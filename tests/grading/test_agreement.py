"""Agreement with another harness's labels: every disagreement in exactly one named group.

Unit cases build one disagreement of each cause by hand; the end-to-end tests run
``verimath grade --against`` as a real process on the shipped transcripts' own labels
(MathCoder splits each run into correct and wrong files; Qwen2.5-Math records a score per
sample). ToRA records only its total (``Mean score: [80.7]``), no per-sample verdicts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.grading.data import DATA, jsonl
from verimath.cli import cli
from verimath.errors import ConfigError, InputError
from verimath.grading import Grader, Status
from verimath.grading.agreement import (
    NOTHING,
    RULE,
    SETS,
    SPAN,
    TIMEOUT,
    TOLERANCE,
    UNITS,
    Labelled,
    agreement_text,
    explain,
    read_label,
)

NAMED = {TIMEOUT, NOTHING, SPAN, UNITS, TOLERANCE, SETS}
MATHCODER = DATA / "transcripts" / "mathcoder"
QWEN = DATA / "transcripts" / "qwen25-math-cot-maj" / "math_cot_100.jsonl"


def _named(cause: str) -> bool:
    return cause in NAMED or (cause.startswith(RULE) and len(cause) > len(RULE))


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("correct", True),
        ("Incorrect", False),
        ("true", True),
        ("wrong", False),
        ("maybe", None),
        (2, None),
        (None, None),
        ([True], None),
    ],
)
def test_verdicts_are_read_as_harnesses_write_them(value: object, label: bool | None) -> None:
    assert read_label(value) is label


# (cause, gold, pred, dataset, verimath's status, their verdict, their answer)
ONE_OF_EACH = [
    (TIMEOUT, "5", r"\boxed{10^{10^{10}}}", "math", Status.TIMEOUT, True, None),
    (
        NOTHING,
        "7",
        "I could not solve this problem at all, sorry.",
        None,
        Status.UNPARSEABLE,
        True,
        None,
    ),
    (SPAN, "18", "Half of 24 is 12. The answer is 12.", "gsm8k", Status.INCORRECT, True, "18"),
    (UNITS, r"50\%", "0.5", "math", Status.INCORRECT, True, None),
    (UNITS, "52", "52 cm^2", "math", Status.CORRECT, False, None),
    (TOLERANCE, r"\frac{10}{11}", "0.9091", "math", Status.INCORRECT, True, None),
    (TOLERANCE, r"\sqrt{6}", "2.4495", "math", Status.INCORRECT, True, None),
    (SETS, "1, -2", r"\boxed{1}", "math", Status.INCORRECT, True, None),
    (SETS, "(1, 2)", "(2, 1)", "math", Status.INCORRECT, True, None),
    (
        RULE + "exact",
        r"\frac{1}{2^{99}}",
        r"\frac{1}{2^{98}}",
        "math",
        Status.INCORRECT,
        True,
        None,
    ),
    (RULE + "thousands separator", "10{,}000", "10000", "math", Status.CORRECT, False, None),
    (RULE + "text", r"\text{Monday}", r"\text{Tuesday}", "math", Status.INCORRECT, True, None),
]


@pytest.mark.parametrize("case", ONE_OF_EACH, ids=[f"{c[0]}|{c[2][:20]}" for c in ONE_OF_EACH])
def test_each_cause_is_found(grader: Grader, case: tuple[Any, ...]) -> None:
    cause, gold, pred, dataset, ours, theirs, their_answer = case
    assert grader.grade(gold, pred, dataset).status is ours  # the status verimath gives
    item = Labelled("line 1", gold, pred, dataset, ours, theirs, their_answer)
    agreement = explain(grader, [item])
    assert [(g.cause, g.count) for g in agreement.groups] == [(cause, 1)]
    assert agreement.disagreed == 1


def test_counts_add_up_and_agreeing_outputs_are_not_grouped(grader: Grader) -> None:
    items = [Labelled(f"line {i}", *case[1:]) for i, case in enumerate(ONE_OF_EACH, 1)]
    items += [
        Labelled("line 90", "3", r"\boxed{3}", "math", Status.CORRECT, True),
        Labelled("line 91", "3", r"\boxed{4}", "math", Status.INCORRECT, False),
    ]
    agreement = explain(grader, items, examples=1)
    assert agreement.total == len(items)
    assert agreement.both_correct == 1
    assert agreement.both_not == 1
    assert agreement.only_ours == 2  # the unit and the thousands-separator cases
    assert agreement.only_theirs == len(ONE_OF_EACH) - 2
    assert sum(g.count for g in agreement.groups) == agreement.disagreed
    assert all(len(g.examples) == 1 for g in agreement.groups)
    data = agreement.to_dict()
    assert data["verimath_accuracy"] == pytest.approx(3 / len(items))
    text = agreement_text(agreement, "label")
    assert f"agreement with label: 2 of {len(items)}" in text
    assert "  units: 2" in text


def _grade(*args: str) -> subprocess.CompletedProcess[str]:
    """``verimath grade`` as a real process (the code under test: PYTHONPATH is inherited)."""
    return subprocess.run(
        [sys.executable, "-m", "verimath", "grade", *args, "--timeout", "2"],
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )


def _mathcoder_rows() -> list[dict[str, Any]]:
    """Every MathCoder prediction with the verdict its file records (correct or wrong)."""
    rows = []
    for model, stamp, data, labels in (
        ("MathCoder-CL-34b", "20230913-1304", "GSM8K", ("correct", "wrong")),
        ("MathCoder-L-7b", "20230916-1751", "GSM8K", ("correct", "wrong")),
        ("MathCoder-L-7b", "20230917-2026", "MATH", ("correct",)),
    ):
        for label in labels:
            path = MATHCODER / model / data / f"{data}_test_result-{stamp}-{label}.jsonl"
            rows += [
                {
                    "id": r["id"],
                    "dataset": data.lower(),
                    "gold": r["ground_truth"]["answer"],
                    "pred": r["completion"],
                    "label": label == "correct",
                }
                for r in jsonl(path)
            ]
    return rows


def _check_groups(report: dict[str, Any], ours: list[str], theirs: list[bool]) -> None:
    """Every disagreement in exactly one named group, counted against the graded file."""
    disagreements = sum((o == "correct") != t for o, t in zip(ours, theirs, strict=True))
    assert report["total"] == len(ours)
    assert report["agreed"] == len(ours) - disagreements
    assert sum(group["count"] for group in report["groups"]) == disagreements
    causes = [group["cause"] for group in report["groups"]]
    assert len(causes) == len(set(causes))
    assert all(_named(cause) for cause in causes), causes
    for group in report["groups"]:
        assert 1 <= len(group["examples"]) <= min(3, group["count"])
        assert all(example["cause"] == group["cause"] for example in group["examples"])


@pytest.mark.slow
def test_mathcoder_labels_end_to_end(tmp_path: Path) -> None:
    rows = _mathcoder_rows()
    source = tmp_path / "mathcoder.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    graded, report_path = tmp_path / "graded.jsonl", tmp_path / "agreement.json"
    run = _grade(
        str(source), "-o", str(graded), "--against", "label", "--against-json", str(report_path)
    )
    assert run.returncode == 0, run.stderr
    ours = [json.loads(line)["status"] for line in graded.read_text().splitlines()]
    report = json.loads(report_path.read_text())
    _check_groups(report, ours, [r["label"] for r in rows])
    assert len(rows) == 1319 * 2 + 1179
    assert report["their_accuracy"] == pytest.approx(sum(r["label"] for r in rows) / len(rows))
    assert f"agreement with label: {report['agreed']} of {len(rows)}" in run.stderr
    assert "disagreements by cause" in run.stderr


@pytest.mark.slow
def test_qwen_scores_and_answers_end_to_end(tmp_path: Path) -> None:
    graded, report_path = tmp_path / "graded.jsonl", tmp_path / "agreement.json"
    run = _grade(
        str(QWEN), "-o", str(graded), "-d", "math", "--gold-field", "gt", "--pred-field", "code",
        "--against", "score", "--against-answer", "pred", "--against-json", str(report_path),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in graded.read_text().splitlines()]
    ours = [status for line in lines for status in line["status"]]
    theirs = [score for line in lines for score in line["score"]]
    report = json.loads(report_path.read_text())
    _check_groups(report, ours, theirs)
    assert report["total"] == 800
    examples = [e for g in report["groups"] for e in g["examples"]]
    assert all(e["their_answer"] is not None for e in examples)  # read from --against-answer
    assert all(e["record"].startswith("line ") and " #" in e["record"] for e in examples)


def _invoke(tmp_path: Path, rows: list[dict[str, Any]], *args: str) -> Any:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return CliRunner().invoke(cli, ["grade", str(source), *args], catch_exceptions=True)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"gold": "1", "pred": "1"}, "in.jsonl:2 field 'ok': missing; --against names"),
        (
            {"gold": "1", "pred": "1", "ok": "maybe"},
            "in.jsonl:2 field 'ok': 'maybe' is not a verdict",
        ),
        (
            {"gold": "1", "pred": ["1", "2"], "ok": [True]},
            "in.jsonl:2 field 'ok': holds 1 values for 2",
        ),
    ],
)
def test_bad_labels_are_reported_before_any_grading(
    tmp_path: Path, row: dict[str, Any], message: str
) -> None:
    target = tmp_path / "out.jsonl"
    result = _invoke(
        tmp_path, [{"gold": "1", "pred": "1", "ok": 1}, row], "--against", "ok", "-o", str(target)
    )
    assert isinstance(result.exception, InputError)
    assert message in str(result.exception)
    assert not target.exists()


def test_against_answer_needs_against(tmp_path: Path) -> None:
    result = _invoke(tmp_path, [{"gold": "1", "pred": "1"}], "--against-answer", "x")
    assert isinstance(result.exception, ConfigError)
    assert "--against-answer and --against-json need --against FIELD" in str(result.exception)


def test_a_label_field_named_like_the_status_field_is_read_before_it_is_replaced(
    tmp_path: Path,
) -> None:
    rows = [{"gold": "7", "pred": r"\boxed{7}", "status": "wrong"}]
    result = _invoke(tmp_path, rows, "--against", "status")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "correct"
    assert "only verimath correct 1" in result.stderr
