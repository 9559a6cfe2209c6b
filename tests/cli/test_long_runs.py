"""Long runs against a real OpenAI-compatible server on 127.0.0.1 that meets what deployments
meet: a context limit, malformed tool calls, samples cut by the token budget or turn limit.
Each sample ends with a stop reason, is graded on what it has and counted apart."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

import verimath
from tests.cli.cli_helpers import error_line, rows, run_cli
from tests.models.chat_fault_server import Fault, FaultyChatServer, status

K = 2
CODE_TURN = "So far the sum is \\boxed{1}.\n```python\nprint(0 + 1)\n```"
"""A turn that states an answer and runs code: a sample of such turns never ends by itself."""
FINAL_TURN = "The sum is \\boxed{1}."


def write_sums(path: Path, count: int) -> Path:
    """``count`` problems whose answer is 1."""
    lines = [
        json.dumps({"id": f"p{i}", "question": f"Add 0 and 1 ({i}).", "answer": 1})
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def eval_args(data: Path, run: Path, base_url: str, *extra: str) -> list[str]:
    return [
        "eval",
        str(data),
        "--model",
        f"openai:tiny@{base_url}",
        "--run",
        str(run),
        "-k",
        str(K),
        "--concurrency",
        "2",
        "--retries",
        "0",
        *extra,
    ]


def report_json(run: Path) -> dict[str, dict[str, object]]:
    result = run_cli("report", str(run), "--format", "json", "--no-plots", "--resamples", "0")
    assert result.returncode == 0, result.stderr
    sections: dict[str, dict[str, object]] = json.loads(result.stdout)["sections"]
    return sections


def test_context_limit_ends_the_sample_which_is_graded_and_flagged(tmp_path: Path) -> None:
    data, run = write_sums(tmp_path / "sums.jsonl", 3), tmp_path / "run.sqlite"
    # the third model call of every sample holds 6 messages: the server refuses it, as vLLM
    # does when the conversation and max_tokens outgrow a 4k context
    with FaultyChatServer(default=Fault("ok", content=CODE_TURN), context_messages=5) as server:
        first = run_cli(*eval_args(data, run, server.base_url, "--json"))
        assert first.returncode == 0, first.stderr
        server.context_messages = None  # the fault is fixed (a larger context)
        server.default = Fault("ok", content=FINAL_TURN)
        calls = len(server.seen)
        rerun = run_cli(*eval_args(data, run, server.base_url, "--json"))
        assert len(server.seen) == calls  # every sample was finished: nothing is asked again
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["samples"] == 3 * K and summary["missing"] == {}
    assert summary["cut"] == {"context": 3 * K}
    assert summary["stop_reasons"] == {"context": 3 * K}
    assert summary["sample_accuracy"] == 1.0  # graded on what they had
    assert summary["uncut_sample_accuracy"] is None and summary["uncut_accuracy"] is None
    turns = rows(run, "SELECT COUNT(*) FROM turns GROUP BY problem_id, sample_index")
    assert turns == [(2,)] * (3 * K)  # the turns before the limit are kept
    assert rows(run, "SELECT DISTINCT answer, grade FROM samples") == [("1", "correct")]
    assert rows(run, "SELECT COUNT(*) FROM failures") == [(0,)]
    sections = report_json(run)
    failures = json.dumps(sections["failures"])
    assert "stopped at the model's context limit" in failures
    accuracy = sections["accuracy"]["data"]["rows"]  # type: ignore[index]
    kinds = {row["kind"]: row["overall"]["n"] for row in accuracy}
    assert kinds == {"samples": 3, "voted": 3, "samples_uncut": 0, "voted_uncut": 0}


def test_context_limit_in_text_output_is_one_line_with_both_accuracies(tmp_path: Path) -> None:
    data, run = write_sums(tmp_path / "sums.jsonl", 2), tmp_path / "run.sqlite"
    with FaultyChatServer(default=Fault("ok", content=CODE_TURN), context_messages=5) as server:
        result = run_cli(*eval_args(data, run, server.base_url))
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "4 of 4 samples were cut short (context 4)" in text
    assert "without them: weighted vote n/a, single sample n/a" in text


def test_samples_cut_by_the_turn_limit_are_counted_apart(tmp_path: Path) -> None:
    data, run = write_sums(tmp_path / "sums.jsonl", 2), tmp_path / "run.sqlite"
    with FaultyChatServer(default=Fault("ok", content=CODE_TURN)) as server:
        result = run_cli(*eval_args(data, run, server.base_url, "--json", "--max-code", "2"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["cut"] == {"max_code_executions": 2 * K}
    assert summary["sample_accuracy"] == 1.0 and summary["uncut_sample_accuracy"] is None
    accuracy = report_json(run)["accuracy"]
    assert "csv, without cut samples" in json.dumps(accuracy["tables"])  # type: ignore[index]


def test_finished_samples_are_not_flagged(tmp_path: Path) -> None:
    data, run = write_sums(tmp_path / "sums.jsonl", 2), tmp_path / "run.sqlite"
    with FaultyChatServer(default=Fault("ok", content=FINAL_TURN)) as server:
        result = run_cli(*eval_args(data, run, server.base_url, "--json"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["cut"] == {} and summary["uncut_accuracy"] is None
    rows_ = report_json(run)["accuracy"]["data"]["rows"]  # type: ignore[index]
    assert [row["kind"] for row in rows_] == ["samples", "voted"]


def test_malformed_tool_call_goes_back_to_the_model(tmp_path: Path) -> None:
    data, run = write_sums(tmp_path / "sums.jsonl", 1), tmp_path / "run.sqlite"
    bad_call = Fault("ok", tool_arguments='{"code": "print(1)"')  # cut JSON
    final = Fault("ok", content=FINAL_TURN, tool_arguments="")
    with FaultyChatServer([bad_call], default=final) as server:
        args = eval_args(data, run, server.base_url, "--json", "--tool-style", "function")
        result = run_cli(*args, "-k", "1")
        replies = [m for m in server.seen[-1].body["messages"] if m["role"] == "tool"]
    assert result.returncode == 0, result.stderr
    assert len(replies) == 1 and "not JSON" in replies[0]["content"]
    assert '{"code": "..."}' in replies[0]["content"]
    assert rows(run, "SELECT stop_reason, grade FROM samples") == [("answer", "correct")]
    assert rows(run, "SELECT COUNT(*) FROM cells") == [(0,)]  # nothing ran


def squeezed(text: str) -> str:
    """``text`` without whitespace: what the terminal wrapped reads the same."""
    return "".join(text.split())


def edit_line(path: Path, index: int, **fields: object) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[index] = json.dumps({**json.loads(lines[index]), **fields})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_an_edited_dataset_is_refused_with_the_changes_then_regraded(tmp_path: Path) -> None:
    data, run = write_sums(tmp_path / "sums.jsonl", 3), tmp_path / "run.sqlite"
    with FaultyChatServer(default=Fault("ok", content=FINAL_TURN)) as server:
        assert run_cli(*eval_args(data, run, server.base_url)).returncode == 0
        edit_line(data, 1, answer=7)  # a gold answer fixed, 1 -> 7
        edit_line(data, 2, question="Add 1 and 0 (2).")  # a question reworded
        refused = run_cli(*eval_args(data, run, server.base_url))
        line = error_line(refused)
        assert "2 problems of the dataset changed" in line
        assert "p1: gold '1' -> '7'" in line and "p2: question changed" in line
        assert "--regrade" in line
        assert rows(run, "SELECT grade FROM votes WHERE problem_id = 'p1'") == [("correct",)]
        calls = len(server.seen)
        regraded = run_cli(*eval_args(data, run, server.base_url, "--json", "--regrade"))
        assert regraded.returncode == 0, regraded.stderr
        assert len(server.seen) == calls + K  # only the reworded problem is sampled again
    votes = rows(run, "SELECT problem_id, grade FROM votes ORDER BY 1")
    assert votes == [("p0", "correct"), ("p1", "incorrect"), ("p2", "correct")]
    assert rows(run, "SELECT DISTINCT grade FROM samples WHERE problem_id = 'p1'") == [
        ("incorrect",)
    ]
    questions = rows(run, "SELECT question, gold FROM problems WHERE problem_id != 'p0'")
    assert sorted(questions) == [("Add 0 and 1 (1).", "7"), ("Add 1 and 0 (2).", "1")]
    assert json.loads(regraded.stdout)["accuracy"] == 2 / 3
    [(identity,)] = rows(run, "SELECT value FROM meta WHERE key = 'dataset_identity'")
    assert json.loads(str(identity))["file_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()


def test_a_question_repeated_with_another_gold_is_an_input_error(tmp_path: Path) -> None:
    data = write_sums(tmp_path / "sums.jsonl", 3)
    edit_line(data, 2, question="Add 0 and 1 (0).", answer=2)  # line 1's question
    line = error_line(run_cli(*eval_args(data, tmp_path / "run.sqlite", "http://127.0.0.1:9/v1")))
    assert f"{data}:3" in line and "line 1" in line and "'2'" in line and "'1'" in line
    assert not (tmp_path / "run.sqlite").exists()


def test_a_moved_server_resumes_and_each_change_is_recorded(tmp_path: Path) -> None:
    data, run = write_sums(tmp_path / "sums.jsonl", 4), tmp_path / "run.sqlite"
    final = Fault("ok", content=FINAL_TURN)
    with FaultyChatServer([final] * 3, default=status(500)) as old:
        first = run_cli(*eval_args(data, run, old.base_url))
        old_url = old.base_url
    assert first.returncode == 3, first.stderr
    with FaultyChatServer(default=final) as new:
        moved = new.base_url.replace("127.0.0.1", "localhost")
        other_model = eval_args(data, run, moved)
        other_model[other_model.index("--model") + 1] = f"openai:other@{moved}"
        refused = error_line(run_cli(*other_model))
        resumed = run_cli(*eval_args(data, run, moved, "--concurrency", "3"))
    assert "model: 'openai:tiny' -> 'openai:other'" in refused
    assert resumed.returncode == 0, resumed.stderr
    told = squeezed(resumed.stderr)
    assert squeezed(f"endpoints changed: [{old_url!r}] -> [{moved!r}]") in told
    assert squeezed("concurrency changed: 2 -> 3") in told
    assert len(rows(run, "SELECT * FROM samples")) == 4 * K
    [(resumes,)] = rows(run, "SELECT value FROM meta WHERE key = 'resumes'")
    [change] = [r["served_changes"] for r in json.loads(str(resumes)) if r["served_changes"]]
    assert change == {"endpoints": [[old_url], [moved]], "concurrency": [2, 3]}
    [(config,)] = rows(run, "SELECT value FROM meta WHERE key = 'config'")
    assert json.loads(str(config))["model"] == "openai:tiny"


def test_a_resume_by_another_version_says_so_and_records_it(tmp_path: Path) -> None:
    data, run = write_sums(tmp_path / "sums.jsonl", 2), tmp_path / "run.sqlite"
    with FaultyChatServer([Fault("ok", content=FINAL_TURN)] * 2, default=status(500)) as server:
        assert run_cli(*eval_args(data, run, server.base_url)).returncode == 3
        with sqlite3.connect(run) as db:  # as if an older verimath had started the run
            [(text,)] = db.execute("SELECT value FROM meta WHERE key = 'versions'")
            db.execute(
                "UPDATE meta SET value = ? WHERE key = 'versions'",
                (json.dumps({**json.loads(text), "verimath": "0.0.1"}),),
            )
        server.default = Fault("ok", content=FINAL_TURN)
        resumed = run_cli(*eval_args(data, run, server.base_url))
    assert resumed.returncode == 0, resumed.stderr
    assert squeezed("the run was last written by verimath 0.0.1") in squeezed(resumed.stderr)
    [(resumes,)] = rows(run, "SELECT value FROM meta WHERE key = 'resumes'")
    assert json.loads(str(resumes))[-1]["versions"]["verimath"] == verimath.__version__


def test_accuracy_without_cut_samples_leaves_out_exactly_those(tmp_path: Path) -> None:
    data, run = tmp_path / "mixed.jsonl", tmp_path / "run.sqlite"
    records = [
        {"id": "p0", "question": "Add 0 and 1. \\boxed{1}", "answer": 1},
        {"id": "p1", "question": "Add 1 and 1. \\boxed{2}", "answer": 2},
        {"id": "p2", "question": "Add 2 and 2.", "answer": 4},
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    # p2's samples run code, then the conversation outgrows the context: cut, and wrong
    script = {"Add 2 and 2.": "Perhaps \\boxed{5}.\n```python\nprint(2 + 2)\n```"}
    with FaultyChatServer(scripted=script, context_messages=3) as server:
        result = run_cli(*eval_args(data, run, server.base_url, "--json"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["cut"] == {"context": K}
    assert summary["accuracy"] == 2 / 3 and summary["uncut_accuracy"] == 1.0
    assert summary["sample_accuracy"] == 4 / 6 and summary["uncut_sample_accuracy"] == 1.0
    accuracy = report_json(run)["accuracy"]["data"]["rows"]  # type: ignore[index]
    overall = {row["kind"]: (row["overall"]["value"], row["overall"]["n"]) for row in accuracy}
    assert overall == {
        "samples": (pytest.approx(4 / 6, abs=1e-6), 3),
        "voted": (pytest.approx(2 / 3, abs=1e-6), 3),
        "samples_uncut": (1.0, 2),
        "voted_uncut": (1.0, 2),
    }
