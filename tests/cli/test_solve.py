"""``verimath solve`` through click's runner: a replayed model whose code runs for real, and
the clear errors a user gets instead of tracebacks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NoReturn

import pytest
from click.testing import CliRunner

import verimath
from tests.cli.cli_helpers import error_line, run_cli
from tests.models.chat_fault_server import OK, FaultyChatServer, status
from tests.shared import TRANSCRIPTS
from verimath.cli import cli, main
from verimath.cli.options import EXIT_INCOMPLETE
from verimath.errors import SamplesFailedError
from verimath.models import FENCED, ChatModel

PROBLEM = "What is the sum of the squares of the first ten positive integers?"
SAMPLES = [
    [
        "Compute it.\n```python\ns = sum(i * i for i in range(1, 11))\nprint(s)\n```",
        "Let me verify with the formula n(n+1)(2n+1)/6.\n"
        "```python\nprint(s == 10 * 11 * 21 // 6)\n```",
        "The verification confirms it: \\boxed{385}.",
    ],
    ["```python\nprint(sum(i**2 for i in range(1, 11)))\n```", "So the answer is \\boxed{385}."],
    [
        "```python\nprint(sum(range(1, 11)) ** 2)\n```",
        "Let me check by substitution.\n"
        "```python\nprint(3025 == sum(i * i for i in range(1, 11)))\n```",
        "The check says False, the answer may be wrong, but I'll keep \\boxed{3025}.",
    ],
]


@pytest.fixture
def replay_file(tmp_path: Path) -> Path:
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps({"problem": PROBLEM, "turns": t}) + "\n" for t in SAMPLES))
    return path


def test_solve_json_runs_code_verifies_and_votes(replay_file: Path) -> None:
    result = CliRunner().invoke(
        cli, ["solve", PROBLEM, "--model", f"replay:{replay_file}", "--samples", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    solution = json.loads(result.stdout)
    assert solution["answer"] == "385"
    states = [s["verification"] for s in solution["samples"]]
    assert sorted(states) == ["False", "True", "Uncertain"]
    votes = {v["answer"]: v for v in solution["votes"]}
    assert votes["385"]["score"] == pytest.approx(1.5)
    assert votes["3025"]["false"] == 1
    assert all(s["code_executions"] >= 1 for s in solution["samples"])


def test_solve_prints_a_readable_transcript(replay_file: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["solve", PROBLEM, "--model", f"replay:{replay_file}", "-k", "3"],
        env={"COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    for expected in (
        "sample 1",
        "sum(i * i for i in range(1, 11))",
        "output · ok",
        "385",
        "verification: True",
        "votes (weights T,U,F = 1,0.5,0.2)",
        "final answer: 385",
    ):
        assert expected in result.output, expected


def test_weights_option_changes_the_vote(replay_file: Path) -> None:
    # weighting False above True lets the refuted answer win: the weights really are applied
    result = CliRunner().invoke(
        cli,
        [
            "solve",
            PROBLEM,
            "--model",
            f"replay:{replay_file}",
            "-k",
            "3",
            "--json",
            "--weights",
            "1,1,1",
        ],
    )
    assert json.loads(result.stdout)["answer"] == "385"
    bad = CliRunner().invoke(
        cli, ["solve", PROBLEM, "--weights", "1,2", "--model", f"replay:{replay_file}"]
    )
    assert bad.exit_code != 0


def run_main(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[int, str]:
    monkeypatch.setattr("sys.argv", ["verimath", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return int(exit_info.value.code), capsys.readouterr().err


def test_missing_api_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, err = run_main(
        ["solve", "1+1?", "--model", "openai:gpt-4o", "-k", "1"], monkeypatch, capsys
    )
    assert code == 2
    assert "OPENAI_API_KEY" in err
    assert "Traceback" not in err


def test_unreachable_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("VERIMATH_SOLVE_RETRIES", "1")
    code, err = run_main(
        ["solve", "1+1?", "--model", "openai:some-model@http://127.0.0.1:9/v1", "-k", "1"],
        monkeypatch,
        capsys,
    )
    assert code == 2
    assert "127.0.0.1:9" in err
    assert "Traceback" not in err


def test_missing_model_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys, tmp_path
) -> None:
    missing = tmp_path / "nope.gguf"
    code, err = run_main(["solve", "1+1?", "--model", f"local:{missing}"], monkeypatch, capsys)
    assert code == 2
    assert str(missing) in err
    assert "Traceback" not in err


TORA_GSM8K = (
    TRANSCRIPTS / "tora" / "tora-code-34b-v1.0" / "gsm8k" / "test_tora_-1_seed0_t0.0_s0_e1319.jsonl"
)


def test_solve_replays_a_tora_transcript_with_real_execution() -> None:
    record = json.loads(TORA_GSM8K.read_text().splitlines()[0])
    result = CliRunner().invoke(
        cli,
        [
            "solve",
            record["question"],
            "--model",
            f"replay:{TORA_GSM8K}",
            "-k",
            "1",
            "--dataset",
            "gsm8k",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    solution = json.loads(result.stdout)
    assert solution["answer"] == record["pred"][0] == "18"
    [sample] = solution["samples"]
    assert sample["code_executions"] == 1
    assert sample["verification"] == "Uncertain"  # ToRA never checks its answers


ECHOED = "Add 41 and 1. \\boxed{42}"


def solve_args(base_url: str, *extra: str) -> list[str]:
    model = f"openai:tiny@{base_url}"
    return ["solve", ECHOED, "--model", model, "-k", "4", "--retries", "0", *extra]


def test_one_failing_sample_does_not_end_the_solve() -> None:
    with FaultyChatServer([OK, status(500), OK, OK]) as server:
        shown = run_cli(*solve_args(server.base_url))
    with FaultyChatServer([OK, status(500), OK, OK]) as server:
        as_json = run_cli(*solve_args(server.base_url, "--json"))
    assert shown.returncode == EXIT_INCOMPLETE, shown.stderr
    assert "Traceback" not in shown.stderr
    said = " ".join(shown.stderr.split())
    assert re.search(r"sample [1-4] failed: ModelConnectionError: .*HTTP 500", said)
    assert "1 of 4 samples failed" in said
    assert "final answer: 42" in shown.stdout
    assert as_json.returncode == EXIT_INCOMPLETE, as_json.stderr
    solution = json.loads(as_json.stdout)
    assert (solution["answer"], solution["samples_used"]) == ("42", 3)
    [failure] = solution["failures"]
    assert failure["kind"] == "ModelConnectionError" and "HTTP 500" in failure["error"]
    assert failure["index"] not in [s["index"] for s in solution["samples"]]
    members = sorted(i for vote in solution["votes"] for i in vote["samples"])
    assert members == sorted(s["index"] for s in solution["samples"])


def test_every_sample_failing_is_one_line() -> None:
    with FaultyChatServer(default=status(500)) as server:
        result = run_cli(*solve_args(server.base_url))
    line = error_line(result)
    assert "HTTP 500" in line and server.base_url in line


class _Broken(ChatModel):
    """A model plugin with a bug: every call raises something that is not verimath's."""

    name = "broken"
    tool_styles = frozenset({FENCED})

    async def generate(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("plugin bug")


def test_samples_failing_with_foreign_errors_name_the_first() -> None:
    model = _Broken()
    with pytest.raises(
        SamplesFailedError, match="all 2 samples failed; the first with RuntimeError"
    ):
        verimath.solve(PROBLEM, model, samples=2)
