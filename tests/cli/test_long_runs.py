"""Long runs against a real OpenAI-compatible server on 127.0.0.1 that meets what deployments
meet: a context limit, malformed tool calls, samples cut by the token budget or turn limit.
Each sample ends with a stop reason, is graded on what it has and counted apart."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.cli_helpers import rows, run_cli
from tests.models.chat_fault_server import Fault, FaultyChatServer

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
    assert summary["uncut_sample_accuracy"] == 0.0 and summary["sample_accuracy"] == 1.0
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
    assert "without them: weighted vote" in text


def test_samples_cut_by_the_turn_limit_are_counted_apart(tmp_path: Path) -> None:
    data, run = write_sums(tmp_path / "sums.jsonl", 2), tmp_path / "run.sqlite"
    with FaultyChatServer(default=Fault("ok", content=CODE_TURN)) as server:
        result = run_cli(*eval_args(data, run, server.base_url, "--json", "--max-code", "2"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["cut"] == {"max_code_executions": 2 * K}
    assert summary["sample_accuracy"] == 1.0 and summary["uncut_sample_accuracy"] == 0.0
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
