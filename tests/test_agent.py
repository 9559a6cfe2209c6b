"""The agent loop end to end through real parts: llama.cpp running a tiny GGUF forced by a
grammar to a scripted transcript, the sandboxed interpreter, verification and voting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.models.tiny_gguf import write_tiny_gguf
from verimath.agent import AgentConfig, run_sample
from verimath.grading import Grader
from verimath.interpreter import Interpreter, Limits
from verimath.models import GenerateConfig
from verimath.models.local import LocalModel
from verimath.prompts import get_strategy
from verimath.solver import SolveOptions, solve_with
from verimath.verification import VerificationState

PROBLEM = "What is the sum of the integers from 1 to 100?"
COMPUTE = "Let me add them up.\n```python\ntotal = sum(range(1, 101))\nprint(total)\n```"
WRONG_COMPUTE = "Let me add them up.\n```python\ntotal = sum(range(1, 100))\nprint(total)\n```"
CHECK = (
    "Let me verify the result with the formula n(n+1)/2.\n"
    "```python\nprint(total == 100 * 101 // 2)\n```"
)
CONFIRMED = "The verification confirms the sum. The answer is \\boxed{5050}."
REFUTED = "The check printed False, so the answer is wrong. The answer is \\boxed{4950}."
FIX = (
    "I summed only up to 99. Let me redo it.\n"
    "```python\ntotal = sum(range(1, 101))\nprint(total)\n```"
)
GREEDY = GenerateConfig(temperature=0.0, max_tokens=256)


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("agent-gguf") / "tiny.gguf")


@pytest.fixture(scope="module")
def interpreter() -> Iterator[Interpreter]:
    with Interpreter(Limits(timeout_s=5, grace_s=2), strict=True) as interp:
        yield interp


def scripted(gguf: Path, *turns: str) -> LocalModel:
    return LocalModel(gguf, script=turns, n_ctx=4096)


async def sample(model: LocalModel, interpreter: Interpreter, **config: object):
    agent = AgentConfig(
        strategy=get_strategy(str(config.pop("strategy", "csv"))), generate=GREEDY, **config
    )  # type: ignore[arg-type]
    with interpreter.session() as session:
        return await run_sample(model, session, PROBLEM, agent)


async def test_compute_verify_answer(gguf: Path, interpreter: Interpreter) -> None:
    model = scripted(gguf, COMPUTE, CHECK, CONFIRMED)
    trajectory = await sample(model, interpreter)
    assert [cell.output for cell in trajectory.cells] == ["5050\n", "True\n"]
    assert [cell.status for cell in trajectory.cells] == ["ok", "ok"]
    assert trajectory.code_executions == 2
    assert trajectory.answer == "5050"
    assert trajectory.answer_method == "boxed"
    assert trajectory.verification.state is VerificationState.TRUE
    assert trajectory.stop_reason == "answer"
    assert len(trajectory.turns) == 3
    assert trajectory.completion_tokens > 0
    # the outputs went back to the model as fenced output blocks
    assert trajectory.messages[-2].content == "```output\nTrue\n\n```"


async def test_failed_check_gives_state_false(gguf: Path, interpreter: Interpreter) -> None:
    model = scripted(gguf, WRONG_COMPUTE, CHECK, REFUTED)
    trajectory = await sample(model, interpreter)
    assert trajectory.cells[1].output == "False\n"
    assert trajectory.answer == "4950"
    assert trajectory.verification.state is VerificationState.FALSE
    assert trajectory.revisions == 0


async def test_revise_after_a_false_check(gguf: Path, interpreter: Interpreter) -> None:
    model = scripted(gguf, WRONG_COMPUTE, CHECK, REFUTED, FIX, CHECK, CONFIRMED)
    trajectory = await sample(model, interpreter, revise=1)
    assert trajectory.revisions == 1
    assert trajectory.answer == "5050"
    assert trajectory.verification.state is VerificationState.TRUE
    revise_prompt = get_strategy("csv").revise_message
    assert any(m.role == "user" and m.content == revise_prompt for m in trajectory.messages)
    assert trajectory.code_executions == 4


async def test_errors_are_fed_back_for_debugging(gguf: Path, interpreter: Interpreter) -> None:
    broken = "```python\nprint(totl)\n```"
    model = scripted(gguf, broken, COMPUTE, CONFIRMED)
    trajectory = await sample(model, interpreter)
    assert trajectory.cells[0].status == "error"
    assert "NameError: name 'totl' is not defined" in trajectory.messages[3].content
    assert trajectory.messages[3].role == "user"
    assert trajectory.cells[1].output == "5050\n"
    assert trajectory.answer == "5050"


async def test_state_persists_between_turns(gguf: Path, interpreter: Interpreter) -> None:
    model = scripted(gguf, COMPUTE, "```python\ntotal * 2\n```", "So \\boxed{5050}.")
    trajectory = await sample(model, interpreter)
    assert trajectory.cells[1].output == "10100\n"


async def test_no_code_rule_enforced(gguf: Path, interpreter: Interpreter) -> None:
    model = scripted(gguf, COMPUTE, "Then by hand, \\boxed{5050}.")
    trajectory = await sample(model, interpreter, strategy="no_code", enforce_code_rule=True)
    assert trajectory.code_executions == 0
    assert trajectory.code_refusals == 1
    assert trajectory.cells[0].status == "refused"
    assert trajectory.messages[-2].content.startswith("```output\n")
    assert get_strategy("no_code").code_refusal in trajectory.messages[-2].content
    assert trajectory.answer == "5050"


async def test_code_once_rule_measured_or_enforced(gguf: Path, interpreter: Interpreter) -> None:
    turns = (COMPUTE, CHECK, CONFIRMED)
    measured = await sample(scripted(gguf, *turns), interpreter, strategy="code_once")
    assert measured.code_executions == 2
    assert measured.rule_violations == 1
    enforced = await sample(
        scripted(gguf, *turns), interpreter, strategy="code_once", enforce_code_rule=True
    )
    assert enforced.code_executions == 1
    assert enforced.code_refusals == 1
    assert enforced.cells[1].status == "refused"


async def test_max_code_executions_stops_the_loop(gguf: Path, interpreter: Interpreter) -> None:
    model = scripted(gguf, COMPUTE, COMPUTE, COMPUTE, COMPUTE)
    trajectory = await sample(model, interpreter, max_code_executions=1)
    assert trajectory.code_executions == 1
    assert trajectory.stop_reason == "max_code_executions"
    assert trajectory.answer is None or trajectory.answer == "5050"


async def test_max_turns_stops_the_loop(gguf: Path, interpreter: Interpreter) -> None:
    model = scripted(gguf, COMPUTE, COMPUTE, COMPUTE)
    trajectory = await sample(model, interpreter, max_turns=2)
    assert trajectory.stop_reason == "max_turns"
    assert len(trajectory.turns) == 2


async def test_token_budget_stops_the_loop(gguf: Path, interpreter: Interpreter) -> None:
    model = scripted(gguf, COMPUTE, CHECK, CONFIRMED)
    trajectory = await sample(model, interpreter, token_budget=10)
    assert trajectory.stop_reason == "token_budget"
    assert len(trajectory.turns) == 1


async def test_solve_votes_over_samples(gguf: Path, interpreter: Interpreter) -> None:
    model = scripted(gguf, COMPUTE, CHECK, CONFIRMED)
    options = SolveOptions(samples=3, generate=GREEDY)
    with Grader() as grader:
        solution = await solve_with(model, interpreter, grader, PROBLEM, options)
    assert solution.answer == "5050"
    assert len(solution.samples) == 3
    [winner] = solution.vote.classes
    assert winner.counts.true == 3
    assert solution.to_dict()["votes"][0]["true"] == 3
