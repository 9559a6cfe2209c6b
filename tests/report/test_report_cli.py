"""``verimath report`` on real runs: numbers checked against the run files themselves (read
here with plain SQL) and against the outcomes the replayed samples were built to have."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.report.conftest import MATH_PROBLEMS
from verimath.cli import cli
from verimath.report.groups import PAPER_SUBJECTS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def report(*args: str) -> str:
    result = CliRunner().invoke(cli, ["report", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def json_report(*runs: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    return json.loads(report(*map(str, runs), "--format", "json", "--resamples", "300", *extra))


def rows(run: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(run) as db:
        return db.execute(query).fetchall()


@pytest.fixture(scope="module")
def math_json(math_run: Path) -> dict[str, Any]:
    return json_report(math_run)


def test_accuracy_rows_match_the_run_file(math_run: Path, math_json: dict[str, Any]) -> None:
    samples, voted, *uncut = math_json["sections"]["accuracy"]["data"]["rows"]
    assert [row["kind"] for row in uncut] in ([], ["samples_uncut", "voted_uncut"])
    correct = rows(math_run, "SELECT AVG(grade = 'correct') FROM samples")[0][0]
    assert samples["overall"]["value"] == pytest.approx(correct) == pytest.approx(0.45)
    assert voted["overall"]["value"] == pytest.approx(0.8)
    assert voted["label"].endswith("+ weighted voting, k=4")
    for row in (samples, voted):
        overall = row["overall"]
        assert overall["n"] == MATH_PROBLEMS
        assert overall["low"] < overall["value"] < overall["high"]
    per_subject = rows(
        math_run,
        "SELECT p.subject, AVG(s.grade = 'correct') FROM samples s "
        "JOIN problems p USING (problem_id) GROUP BY p.subject",
    )
    assert {k: v["value"] for k, v in samples["subjects"].items()} == pytest.approx(
        dict(per_subject)
    )
    levels = rows(
        math_run,
        "SELECT p.level, AVG(v.grade = 'correct') FROM votes v "
        "JOIN problems p USING (problem_id) GROUP BY p.level",
    )
    assert {int(k): v["value"] for k, v in voted["levels"].items()} == pytest.approx(dict(levels))


def test_voting_curve_ends_at_the_stored_votes(math_run: Path, math_json: dict[str, Any]) -> None:
    [curve] = math_json["sections"]["voting"]["data"].values()
    points = {p["k"]: p for p in curve["points"]}
    assert sorted(points) == [1, 2, 3, 4] and all(p["exact"] for p in points.values())
    weighted, plain = rows(
        math_run, "SELECT AVG(grade = 'correct'), AVG(plain_grade = 'correct') FROM votes"
    )[0]
    assert points[4]["weighted"] == pytest.approx(weighted) == pytest.approx(0.8)
    # plain majority loses where two refuted wrong answers outnumber one verified right one
    assert points[4]["plain"] == pytest.approx(plain) == pytest.approx(0.6)
    # one sample: every method is the single-sample accuracy
    assert points[1]["weighted"] == points[1]["plain"] == pytest.approx(0.45)
    assert points[1]["pass_at_k"] == pytest.approx(0.45)
    best = "SELECT MAX(grade = 'correct') AS ok FROM samples GROUP BY problem_id"
    any_correct = rows(math_run, f"SELECT AVG(ok) FROM ({best})")[0][0]
    assert points[4]["pass_at_k"] == pytest.approx(any_correct) == pytest.approx(0.8)
    assert points[2]["weighted"] > points[2]["plain"]


def test_voting_groups_equivalent_answers(math_run: Path, math_json: dict[str, Any]) -> None:
    # pattern 2 answers 12, 13, 13, 12.0: only when 12.0 joins 12 does the tie go to 12
    query = "SELECT problem_id FROM samples WHERE sample_index = 3 AND answer LIKE '%.0'"
    tied = [pid for (pid,) in rows(math_run, query)]
    assert len(tied) == 2
    [curve] = math_json["sections"]["voting"]["data"].values()
    grades = dict(rows(math_run, "SELECT problem_id, plain_grade FROM votes"))
    assert all(grades[pid] == "correct" for pid in tied)
    assert curve["points"][-1]["plain"] == pytest.approx(0.6)


def test_verification_confusion(math_json: dict[str, Any]) -> None:
    [data] = math_json["sections"]["verification"]["data"].values()
    counts = data["counts"]
    assert counts["True"] == {"correct": 6, "incorrect": 0, "unparseable": 0, "timeout": 0}
    assert counts["False"]["incorrect"] == 4 and counts["False"]["correct"] == 0
    assert data["precision"]["value"] == 1.0
    assert data["recall"]["value"] == pytest.approx(6 / 18)
    assert data["false_detects_wrong"]["value"] == 1.0


def test_code_usage_and_failures(math_run: Path, math_json: dict[str, Any]) -> None:
    [usage] = math_json["sections"]["code_usage"]["data"]["distribution"].values()
    counts = Counter(
        dict(rows(math_run, "SELECT code_executions, COUNT(*) FROM samples GROUP BY 1"))
    )
    assert {b: v["samples"] for b, v in usage["buckets"].items() if v["samples"]} == {
        str(k): v for k, v in counts.items()
    }
    [failures] = math_json["sections"]["failures"]["data"].values()
    categories = failures["categories"]
    assert categories["cell_timeout"] == 2 and categories["tool_error"] == 2
    assert categories["code_budget"] == 2 and categories["refused"] == 2
    assert categories["no_answer"] == 2 and categories["unparseable"] == 2
    assert categories["grading_timeout"] == 0 and failures["missing"] == 0
    assert failures["cells"]["timeout"] == 2 and failures["cells"]["refused"] == 4


def test_markdown_with_plots_side_by_side(math_run: Path, gsm_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    report(str(math_run), str(gsm_run), "--out", str(out), "--resamples", "200")
    text = (out / "report.md").read_text()
    for heading in ("Accuracy", "Code usage", "Verification", "Voting curves", "Failures"):
        assert f"## {heading}" in text
    plots = sorted((out / "plots").glob("*.png"))
    assert {p.stem for p in plots} >= {"accuracy", "code_usage", "verification", "voting"}
    for plot in plots:
        assert plot.read_bytes().startswith(PNG_MAGIC)
        assert f"(plots/{plot.name})" in text
    header = next(line for line in text.splitlines() if line.startswith("|  | IntAlg"))
    present = [h for h in PAPER_SUBJECTS.values() if f"| {h} |" in header]
    assert header.index(present[0]) < header.index(present[-1])  # the paper's column order
    assert "csv · " in text and "basic · " in text
    assert "Difference to" in text
    assert "+ weighted voting, k=1" not in text  # no voted row for a one-sample run


def test_html_is_self_contained(math_run: Path, tmp_path: Path) -> None:
    report(str(math_run), "--format", "html", "--out", str(tmp_path), "--resamples", "100")
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 5
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    rest = re.sub(r"<script>.*?</script>", "", page, flags=re.S)
    assert "http://" not in rest and "https://" not in rest and "<script" not in rest
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy and "default-src 'none'" in policy.group(1)  # no network, whatever a script says
    assert policy.group(1).count("'sha256-") == len(scripts) == 5  # the renderers and a toggle


def test_stdout_and_no_plots(math_run: Path, tmp_path: Path) -> None:
    text = report(str(math_run), "--resamples", "50")
    assert "## Accuracy" in text and "Plots are left out" in text
    report(str(math_run), "--no-plots", "--out", str(tmp_path), "--resamples", "50")
    assert not (tmp_path / "plots").exists()
    assert "![" not in (tmp_path / "report.md").read_text()


def test_bootstrap_is_seeded(math_run: Path) -> None:
    def interval(seed: str) -> tuple[float, float]:
        data = json_report(math_run, extra=("--seed", seed))
        overall = data["sections"]["accuracy"]["data"]["rows"][0]["overall"]
        return overall["low"], overall["high"]

    assert interval("1") == interval("1")
    assert {interval(str(seed)) for seed in range(2, 7)} != {interval("1")}


def test_same_strategy_twice_gets_distinct_labels(math_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "again.sqlite"
    copy.write_bytes(math_run.read_bytes())
    data = json_report(math_run, copy, extra=("--resamples", "0"))
    labels = [run["label"] for run in data["runs"]]
    assert labels == ["csv [math-csv]", "csv [again]"]
    twice = json_report(math_run, math_run, extra=("--resamples", "0"))
    assert [run["label"] for run in twice["runs"]] == ["csv [math-csv] #1", "csv [math-csv] #2"]


def test_bad_run_files_are_clear_errors(tmp_path: Path) -> None:
    missing = CliRunner().invoke(cli, ["report", str(tmp_path / "nope.sqlite")])
    assert missing.exit_code != 0 and "no such run file" in str(missing.exception)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    before = other.read_bytes()
    result = CliRunner().invoke(cli, ["report", str(other)])
    assert result.exit_code != 0 and "not a verimath run" in str(result.exception)
    assert other.read_bytes() == before  # probed read-only, not given a run's tables


def test_a_run_without_samples_yet_reports_dashes(math_run: Path, tmp_path: Path) -> None:
    empty = tmp_path / "started.sqlite"
    empty.write_bytes(math_run.read_bytes())
    with sqlite3.connect(empty) as db:
        for table in ("samples", "turns", "cells", "votes"):
            db.execute(f"DELETE FROM {table}")
    report(str(empty), "--out", str(tmp_path / "out"), "--resamples", "50")
    text = (tmp_path / "out" / "report.md").read_text()
    assert "| csv | – | – |" in text
    assert CliRunner().invoke(cli, ["view", str(empty)]).exit_code == 0
