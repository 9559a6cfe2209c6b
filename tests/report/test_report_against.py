"""``verimath report RUN --against FILE`` on a real run replaying MathCoder's GSM8K outputs,
against the verdicts MathCoder recorded for those same outputs (its correct/wrong files)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.report.conftest import GSM_PROBLEMS, MATHCODER_GSM8K
from verimath.cli import cli
from verimath.errors import ConfigError, InputError
from verimath.grading.agreement import NOTHING, RULE, SETS, SPAN, TIMEOUT, TOLERANCE, UNITS

NAMED = {TIMEOUT, NOTHING, SPAN, UNITS, TOLERANCE, SETS}


def _mathcoder_verdicts() -> dict[str, tuple[bool, str]]:
    """MathCoder's verdict and extracted answer, by question text."""
    verdicts = {}
    for label in ("correct", "wrong"):
        path = MATHCODER_GSM8K / f"GSM8K_test_result-20230913-1304-{label}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            question = record["messages"][-1]["content"][0]["content"].strip()
            verdicts[question] = (label == "correct", record["completion"])
    return verdicts


@pytest.fixture(scope="module")
def labels(gsm_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    verdicts = _mathcoder_verdicts()
    with sqlite3.connect(gsm_run) as db:
        problems = db.execute("SELECT problem_id, question FROM problems").fetchall()
    lines = [
        {
            "problem_id": problem_id,
            "sample_index": 0,
            "correct": verdicts[question.strip()][0],
            "answer": verdicts[question.strip()][1],
        }
        for problem_id, question in problems
    ]
    path = tmp_path_factory.mktemp("against") / "mathcoder-labels.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def _report(*args: str) -> Any:
    return CliRunner().invoke(cli, ["report", *args, "--resamples", "0", "--no-plots"])


def test_the_agreement_section_counts_every_disagreement_once(gsm_run: Path, labels: Path) -> None:
    result = _report(str(gsm_run), "--against", str(labels), "--format", "json")
    assert result.exit_code == 0, (result.output, result.exception)
    section = json.loads(result.stdout)["sections"]["against"]
    data = section["data"]
    theirs = {
        json.loads(line)["problem_id"]: json.loads(line)["correct"]
        for line in labels.read_text().splitlines()
    }
    with sqlite3.connect(gsm_run) as db:
        grades = db.execute("SELECT problem_id, grade FROM samples").fetchall()
    disagreements = sum((grade == "correct") != theirs[pid] for pid, grade in grades)
    assert data["total"] == len(grades) == GSM_PROBLEMS
    assert data["agreed"] == GSM_PROBLEMS - disagreements
    assert sum(group["count"] for group in data["groups"]) == disagreements
    for group in data["groups"]:
        assert group["cause"] in NAMED or group["cause"].startswith(RULE)
    assert section["title"] == "Agreement with mathcoder-labels.jsonl"
    assert [t["title"] for t in section["tables"]] == [
        "Agreement",
        "Disagreements by cause",
        "Examples of each cause",
    ]


def test_the_html_and_markdown_reports_show_the_section(gsm_run: Path, labels: Path) -> None:
    html = _report(str(gsm_run), "--against", str(labels), "--format", "html")
    assert html.exit_code == 0, (html.output, html.exception)
    assert '<section id="against"><h2>Agreement with mathcoder-labels.jsonl</h2>' in html.stdout
    assert "<caption>Disagreements by cause</caption>" in html.stdout
    markdown = _report(str(gsm_run), "--against", str(labels))
    assert "Agreement with mathcoder-labels.jsonl" in markdown.stdout


def test_against_takes_one_run(gsm_run: Path, labels: Path) -> None:
    result = _report(str(gsm_run), str(gsm_run), "--against", str(labels))
    assert isinstance(result.exception, ConfigError)
    assert "give one RUN" in str(result.exception)


def test_a_bad_label_line_names_the_file_and_line(gsm_run: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem_id": "1", "correct": true}\n{"problem_id": "2", "correct": "?"}\n')
    result = _report(str(gsm_run), "--against", str(bad))
    assert isinstance(result.exception, InputError)
    assert "bad.jsonl:2 field 'correct': '?' is not a verdict" in str(result.exception)


def test_a_lenient_harness_disagrees_on_every_wrong_sample(gsm_run: Path, tmp_path: Path) -> None:
    """Labels that call every sample correct: each sample verimath did not grade correct is
    one disagreement, and each lands in one named group with its verimath answer."""
    with sqlite3.connect(gsm_run) as db:
        samples = db.execute("SELECT problem_id, sample_index, grade FROM samples").fetchall()
    lenient = tmp_path / "lenient.jsonl"
    lenient.write_text(
        "".join(
            json.dumps({"problem_id": pid, "sample_index": index, "correct": "correct"}) + "\n"
            for pid, index, _ in samples
        )
    )
    result = _report(str(gsm_run), "--against", str(lenient), "--format", "json")
    assert result.exit_code == 0, (result.output, result.exception)
    data = json.loads(result.stdout)["sections"]["against"]["data"]
    wrong = sum(grade != "correct" for _, _, grade in samples)
    assert wrong > 0
    assert data["only_theirs_correct"] == wrong
    assert sum(group["count"] for group in data["groups"]) == wrong
    assert all(
        group["cause"] in NAMED or group["cause"].startswith(RULE) for group in data["groups"]
    )
