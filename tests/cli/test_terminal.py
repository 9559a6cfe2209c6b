"""Nothing a model server says reaches the terminal raw: every command run on a real pty against
a real local server that answers escape sequences, C1 controls and bidi characters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.cli_helpers import write_problems
from tests.cli.pty_screen import Screen, run_on_terminal
from tests.models.chat_fault_server import Fault, FaultyChatServer, status

# clipboard write (OSC 52), window title (OSC 0, BEL- and ST-terminated), clear screen (CSI 2J),
# one-character CSI and OSC (C1), a right-to-left override and an isolate (Trojan Source)
HOSTILE = (
    "\x1b]52;c;cHduZWQ=\x07\x1b]0;pwned\x07\x1b[2J\x9b31m\x9d0;t\x9c"
    "\u202eevil\u2066x\u2069\x1b]0;st\x1b\\"
)
ANSWER = "\x1b]0;t\x1b\\42\x9b2J\u202e"


def hostile_answer() -> Fault:
    return Fault("ok", content=f"So the answer is \\boxed{{{ANSWER}}}.")


def assert_clean(screen: Screen) -> None:
    assert screen.foreign_sequences() == [], screen.foreign_sequences()
    assert "Traceback" not in screen.text, screen.text


def test_a_servers_error_text_reaches_the_error_line_escaped() -> None:
    with FaultyChatServer(default=status(400, HOSTILE)) as server:
        screen = run_on_terminal(
            "solve", "What is 6*7?", "--model", f"openai:tiny@{server.base_url}",
            "-k", "1", "--retries", "0",
        )  # fmt: skip
    assert screen.returncode == 2, screen.text
    assert_clean(screen)
    error = [line for line in screen.plain().splitlines() if line.startswith("Error:")]
    assert len(error) == 1, screen.plain()
    assert "\\x1b]52;c;cHduZWQ=\\x07" in error[0]  # shown, escaped, not obeyed
    assert "\\x9b31m" in error[0] and "\\u202eevil\\u2066" in error[0]


def test_a_hostile_answer_reaches_the_transcript_and_vote_table_escaped() -> None:
    with FaultyChatServer(default=hostile_answer()) as server:
        screen = run_on_terminal(
            "solve", "What is 6*7?", "--model", f"openai:tiny@{server.base_url}", "-k", "2"
        )
    assert screen.returncode == 0, screen.text
    assert_clean(screen)
    shown = "\\x1b]0;t\\x1b\\42\\x9b2J\\u202e"
    final = [line for line in screen.plain().splitlines() if "final answer:" in line]
    assert final and shown in final[0], screen.plain()
    assert shown in screen.plain().split("votes (weights")[1]  # the vote table's row


def test_solve_json_escapes_c1_and_bidi_and_keeps_the_answer() -> None:
    with FaultyChatServer(default=hostile_answer()) as server:
        screen = run_on_terminal(
            "solve", "What is 6*7?", "--model", f"openai:tiny@{server.base_url}",
            "-k", "1", "--json",
        )  # fmt: skip
    assert screen.returncode == 0, screen.text
    assert_clean(screen)
    solution = json.loads(screen.plain())
    assert solution["answer"] == ANSWER  # escaped on the screen, the same value once parsed


@pytest.mark.slow
def test_eval_progress_and_summary_show_server_errors_escaped(tmp_path: Path) -> None:
    problems = write_problems(tmp_path / "p.jsonl", 2)
    with FaultyChatServer(default=status(400, HOSTILE)) as server:
        screen = run_on_terminal(
            "eval", str(problems), "--model", f"openai:tiny\u202e\x1b[2J@{server.base_url}",
            "-k", "1", "--retries", "0", "--run", str(tmp_path / "r.sqlite"),
        )  # fmt: skip
    assert screen.returncode in (2, 3), screen.text
    assert_clean(screen)
    assert "\\x1b]52;c;cHduZWQ=" in screen.plain(), screen.plain()


@pytest.mark.slow
def test_report_of_a_run_with_hostile_names_and_answers_is_escaped(tmp_path: Path) -> None:
    problems = write_problems(tmp_path / "p.jsonl", 1)
    run = tmp_path / "r.sqlite"
    with FaultyChatServer(default=hostile_answer()) as server:
        done = run_on_terminal(
            "eval", str(problems), "--model", f"openai:tiny\u202e\x9b2J@{server.base_url}",
            "-k", "1", "--run", str(run),
        )  # fmt: skip
    assert done.returncode == 0, done.text
    assert_clean(done)
    markdown = run_on_terminal("report", str(run), "--format", "md", "--no-plots")
    assert markdown.returncode == 0, markdown.text
    assert_clean(markdown)
    assert "tiny\\u202e\\x9b2J" in markdown.plain()
    as_json = run_on_terminal("report", str(run), "--format", "json", "--no-plots")
    assert as_json.returncode == 0, as_json.text
    assert_clean(as_json)
    assert "tiny\u202e\x9b2J" in json.dumps(json.loads(as_json.plain()), ensure_ascii=False)
