"""``--adaptive`` in ``solve`` and ``eval``: fewer samples, the same voted answers (exact mode)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from verimath.cli import cli

# Four samples per problem. Problem A: all agree (settles after 3 of 4 in exact mode);
# problem B: a split that only the last sample decides.
A = "Compute 6 times 7."
B = "Compute 2 to the power 5."
SAMPLES = [
    (A, ["```python\nprint(6 * 7)\n```", "So \\boxed{42}."]),
    (A, ["```python\nprint(7 * 6)\n```", "So \\boxed{42}."]),
    (A, ["Mentally, \\boxed{42}."]),
    (A, ["Also \\boxed{42}."]),
    (B, ["```python\nprint(2 ** 5)\n```", "So \\boxed{32}."]),
    (B, ["Doubling five times: \\boxed{10}."]),
    (B, ["```python\nprint(2 * 5)\n```", "So \\boxed{10}."]),
    (B, ["```python\nprint(2 ** 5)\n```", "So \\boxed{32}."]),
]


def write_problems(tmp_path: Path) -> tuple[Path, Path]:
    replay = tmp_path / "replay.jsonl"
    replay.write_text("".join(json.dumps({"problem": q, "turns": t}) + "\n" for q, t in SAMPLES))
    data = tmp_path / "problems.jsonl"
    data.write_text(
        json.dumps({"id": "A", "question": A, "answer": "42"})
        + "\n"
        + json.dumps({"id": "B", "question": B, "answer": "32"})
        + "\n"
    )
    return replay, data


def run_eval(tmp_path: Path, name: str, *extra: str) -> dict:
    replay, data = write_problems(tmp_path)
    run = tmp_path / f"{name}.sqlite"
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            str(data),
            "--model",
            f"replay:{replay}",
            "-k",
            "4",
            "--run",
            str(run),
            "--json",
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    with sqlite3.connect(run) as db:
        votes = dict(db.execute("SELECT problem_id, answer FROM votes"))
        used = dict(db.execute("SELECT problem_id, samples_used FROM votes"))
    return {"summary": json.loads(result.stdout), "votes": votes, "used": used}


def test_exact_adaptive_eval_saves_samples_and_keeps_answers(tmp_path: Path) -> None:
    full = run_eval(tmp_path, "full")
    adaptive = run_eval(tmp_path, "adaptive", "--adaptive", "exact", "--wave", "1")
    assert adaptive["votes"] == full["votes"]
    assert full["used"] == {"A": 4, "B": 4}
    assert adaptive["used"] == {"A": 3, "B": 4}
    assert adaptive["summary"]["samples"] == 7


def test_adaptive_run_resumes(tmp_path: Path) -> None:
    first = run_eval(tmp_path, "resumed", "--adaptive", "exact", "--wave", "1")
    again = run_eval(tmp_path, "resumed", "--adaptive", "exact", "--wave", "1")
    assert again["used"] == first["used"]
    assert again["summary"]["samples"] == first["summary"]["samples"]


def test_exact_adaptive_solve(tmp_path: Path) -> None:
    replay, _ = write_problems(tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "solve",
            A,
            "--model",
            f"replay:{replay}",
            "-k",
            "4",
            "--adaptive",
            "exact",
            "--wave",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    solution = json.loads(result.stdout)
    assert solution["answer"] == "42"
    assert solution["samples_used"] == 3


def test_report_shows_samples_spent(tmp_path: Path) -> None:
    run_eval(tmp_path, "full")
    run_eval(tmp_path, "adaptive", "--adaptive", "exact", "--wave", "1")
    runs = [str(tmp_path / "full.sqlite"), str(tmp_path / "adaptive.sqlite")]
    result = CliRunner().invoke(cli, ["report", *runs, "--format", "json", "--no-plots"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    full, adaptive = report["sections"]["spend"]["data"].values()
    assert (full["mean"], full["saved"], full["adaptive"]) == (4.0, 0.0, "off")
    assert adaptive["mean"] == 3.5
    assert adaptive["saved"] == 1 / 8
    assert adaptive["adaptive"] == "exact"
    assert {int(k): v for k, v in adaptive["by_spent"].items()} == {3: [1.0, 1], 4: [1.0, 1]}
    failures = report["sections"]["failures"]["data"]
    for figures in failures.values():  # samples an adaptive run did not need are not missing
        assert (figures["missing"], figures["unvoted"], figures["failures"]) == (0, 0, 0)
