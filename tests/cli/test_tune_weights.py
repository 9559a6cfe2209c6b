"""``verimath tune-weights`` on a real run whose verified samples are the right ones."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from verimath.cli import cli
from verimath.store import RunStore


def checked(answer: int) -> list[str]:
    return [
        f"```python\nresult = {answer}\nprint(result)\n```",
        f"Let me verify the result by substitution.\n```python\nprint(result == {answer})\n```",
        f"The verification confirms it: \\boxed{{{answer}}}.",
    ]


def unchecked(answer: int) -> list[str]:
    return [f"I estimate it is \\boxed{{{answer}}}."]


def make_run(tmp_path: Path) -> Path:
    replay, data, lines, rows = tmp_path / "r.jsonl", tmp_path / "d.jsonl", [], []
    for i in range(30):
        question = f"Problem number {i}: what is {i} + {i}?"
        right, wrong = 2 * i, 2 * i + 1
        # one verified right answer against two unverified wrong ones: plain majority errs
        turns = (
            [checked(right), unchecked(wrong), unchecked(wrong)]
            if i % 3
            else [checked(right), checked(right), unchecked(wrong)]
        )
        lines += [json.dumps({"problem": question, "turns": t}) for t in turns]
        rows.append(json.dumps({"id": f"p{i}", "question": question, "answer": str(right)}))
    replay.write_text("\n".join(lines) + "\n")
    data.write_text("\n".join(rows) + "\n")
    run = tmp_path / "run.sqlite"
    result = CliRunner().invoke(
        cli,
        ["eval", str(data), "--model", f"replay:{replay}", "-k", "3", "--run", str(run), "--json"],
    )
    assert result.exit_code == 0, result.output
    return run


def test_tuned_weights_beat_plain_majority_on_held_out(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    result = CliRunner().invoke(cli, ["tune-weights", str(run), "--json", "--bootstrap", "500"])
    assert result.exit_code == 0, result.output
    tuned = json.loads(result.stdout)
    assert tuned["dev_problems"] + tuned["heldout_problems"] == 30
    assert tuned["heldout_accuracy"] == 1.0
    assert tuned["heldout_plain_accuracy"] < 0.5
    assert tuned["gain"] > 0.5
    low, high = tuned["gain_ci"]
    assert 0 < low <= tuned["gain"] <= high
    true, uncertain, _ = map(float, tuned["weights"].split(","))
    assert true > uncertain  # never plain majority, which gets two thirds wrong here


def test_tune_weights_table_and_bad_run(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    table = CliRunner().invoke(cli, ["tune-weights", str(run), "--bootstrap", "200"])
    assert table.exit_code == 0, table.output
    assert "held-out gain over plain majority" in table.output
    assert "--weights" in table.output
    empty = tmp_path / "empty.sqlite"
    with RunStore(empty) as store:
        store.bind_config({"samples": 3}, {})
    bad = CliRunner().invoke(cli, ["tune-weights", str(empty)])
    assert bad.exit_code != 0
    assert "at least two voted problems" in str(bad.exception)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).close()
    bad = CliRunner().invoke(cli, ["tune-weights", str(other)])
    assert bad.exit_code != 0
    assert "not a verimath run" in str(bad.exception)
