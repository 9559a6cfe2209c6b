"""Real runs for the report tests, made by ``verimath eval`` (real engine, real sandboxed
cells, real grader, real SQLite) from replay files written here.

``math_run``: 10 MATH-500 problems x 4 samples. Every problem cycles through five patterns
whose outcomes are known: unanimous and correct; weighted vote right where plain majority is
wrong (two refuted wrong answers against one verified right one); ``12``, ``13``, ``13``,
``12.0`` (right only if ``12.0`` joins ``12``: a tie then goes to the earliest answer); a cell
error, a cell timeout, a sample that hits the code budget without an answer and one whose
text and output hold script tags; all wrong.
With ``--revise 1`` each refuted sample is asked once to revise (and has nothing more to say).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.shared import SHARED_DATA
from verimath.cli import cli
from verimath.datasets import load_dataset

SHARED = SHARED_DATA
MATHCODER_GSM8K = SHARED / "transcripts" / "mathcoder" / "MathCoder-CL-34b" / "GSM8K"
MATH_PROBLEMS = 10
GSM_PROBLEMS = 30
XSS_TEXT = (
    "<script>document.body.dataset.pwned='text'</script>"
    "<img src=x onerror=\"document.body.dataset.pwned='img'\"> Let me compute."
    " [a link](javascript:document.body.dataset.pwned='link')"
    " ![an image](data:image/svg+xml,<svg onload=alert(1)>)"
    " $\\href{javascript:document.body.dataset.pwned='href'}{x}$"
    " $\\htmlClass{x}{y}$ <iframe srcdoc='<script>parent.document.body.dataset.pwned=1</script>'>"
)
XSS_CODE = "print('</script><script>document.body.dataset.pwned=1</script>')"


def verified(answer: str, gold: str) -> list[str]:
    return [
        f"Let me compute.\n```python\nx = {answer}\nprint(x)\n```",
        f"So the answer is \\boxed{{{answer}}}. Let me verify.\n```python\nprint(x == {gold})\n```",
        "The check confirms it.",
    ]


def refuted(answer: str, gold: str) -> list[str]:
    return [
        f"Compute.\n```python\ny = {answer}\nprint(y)\n```",
        f"The answer is \\boxed{{{answer}}}. Let me verify.\n```python\nprint(y == {gold})\n```",
        "The check does not match, but I keep my answer.",
    ]


def stated(answer: str) -> list[str]:
    return [f"The answer is \\boxed{{{answer}}}."]


def computed(answer: str) -> list[str]:
    return [f"```python\nprint({answer})\n```", f"So the answer is \\boxed{{{answer}}}."]


def tool_error(answer: str) -> list[str]:
    return ["```python\nprint(1 / 0)\n```", f"Never mind: \\boxed{{{answer}}}."]


def cell_timeout(answer: str) -> list[str]:
    return ["```python\nimport time\ntime.sleep(30)\n```", f"Too slow; \\boxed{{{answer}}}."]


def code_spam() -> list[str]:
    return [f"```python\nprint({i})\n```" for i in range(5)]


def script_tags(answer: str) -> list[str]:
    return [f"{XSS_TEXT}\n```python\n{XSS_CODE}\n```", f"\\boxed{{{answer}}}"]


PATTERNS: list[Callable[[str, str, str], list[list[str]]]] = [
    lambda g, w, v: [verified(g, g), verified(g, g), stated(g), computed(g)],
    lambda g, w, v: [refuted(w, g), refuted(w, g), verified(g, g), computed(v)],
    lambda g, w, v: [stated(g), computed(w), computed(w), stated(f"{g}.0")],
    lambda g, w, v: [tool_error(w), cell_timeout(g), code_spam(), script_tags(g)],
    lambda g, w, v: [computed(w), computed(w), stated(w), stated(v)],
]
"""Samples per problem from (gold, a wrong answer, another wrong answer)."""


def math_problems() -> list:
    problems = [p for p in load_dataset("math500") if p.answer.isdigit()]
    return problems[:MATH_PROBLEMS]


def write_math_replay(path: Path) -> list:
    problems = math_problems()
    with path.open("w", encoding="utf-8") as sink:
        for i, problem in enumerate(problems):
            gold = problem.answer
            wrong, other = str(int(gold) + 1), str(int(gold) + 2)
            for turns in PATTERNS[i % len(PATTERNS)](gold, wrong, other):
                record = {"problem": problem.question, "turns": turns, "answer": gold}
                sink.write(json.dumps(record) + "\n")
    return problems


def run_eval(*args: str) -> None:
    result = CliRunner().invoke(cli, ["eval", *args, "--concurrency", "8", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)


@pytest.fixture(scope="session")
def math_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("math_run")
    replay = folder / "replay.jsonl"
    write_math_replay(replay)
    run = folder / "math-csv.sqlite"
    run_eval(
        "math500", "--model", f"replay:{replay}", "-k", "4", "--run", str(run),
        "--timeout", "1", "--max-code", "3", "--revise", "1",
    )  # fmt: skip
    return run


@pytest.fixture(scope="session")
def gsm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("gsm_run") / "gsm-basic.sqlite"
    run_eval(
        "gsm8k", "--model", f"replay:{MATHCODER_GSM8K}", "-k", "1", "--strategy", "basic",
        "--limit", str(GSM_PROBLEMS), "--run", str(run),
    )  # fmt: skip
    return run
