"""Tests for verimath.prompts: verbatim templates, code-use rules, fixed messages."""

from __future__ import annotations

import dataclasses
import re

import pytest

from tests.shared import SHARED
from verimath.errors import ConfigError
from verimath.prompts import (
    CODE_ONCE_REFUSAL,
    FENCED_TEXT_HINT,
    NO_CODE_REFUSAL,
    REVISE_MESSAGE_CODE,
    REVISE_MESSAGE_TEXT,
    STRATEGIES,
    Strategy,
    get_strategy,
    strategy_names,
    tool_use_hint,
)

DESIGN = SHARED / "DESIGN.md"
Q = "What is $\\frac{1}{2}$ of {x} when x = 4?"


def test_names_in_paper_order() -> None:
    assert strategy_names() == ("basic", "no_code", "code_once", "csv", "nl_verify")
    assert all(STRATEGIES[name].name == name for name in strategy_names())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("basic", f"Solve the problem and put your answer in \\boxed{{}}. The problem is: {Q}."),
        ("no_code", f"You are not allowed to use any code. The problem is: {Q}."),
        ("code_once", f"You can use code only 1 time. The problem is: {Q}."),
        (
            "csv",
            "To solve the problem using code interpreter step by step, and please verify your "
            "answer using code interpreter. Please put your answer in \\boxed{}. "
            f"The problem is: {Q}.",
        ),
        (
            "nl_verify",
            "To solve the problem using code interpreter step by step, and please verify "
            "your answer in natural language, step by step, without using code. Please put "
            f"your answer in \\boxed{{}}. The problem is: {Q}.",
        ),
    ],
)
def test_render_is_verbatim_and_keeps_braces(name: str, expected: str) -> None:
    assert get_strategy(name).render(Q) == expected
    assert get_strategy(name).render(f"  {Q}\n") == expected


def test_templates_match_design_md_quotes() -> None:
    text = DESIGN.read_text()
    quoted = {m.group(1): m.group(2) for m in re.finditer(r"- (\w+)(?: \(.*?\))?: `([^`]*)`", text)}
    for name in ("basic", "no_code", "code_once"):
        assert get_strategy(name).template == quoted[name]
    csv_sentence = re.search(r"`(To solve the problem using code interpreter[^`]*)`", text, re.S)
    assert csv_sentence is not None
    assert " ".join(csv_sentence.group(1).split()) in get_strategy("csv").template


@pytest.mark.parametrize(
    ("name", "limit", "verifies", "medium", "refusal", "revise"),
    [
        ("basic", None, False, "code", None, None),
        ("no_code", 0, False, "code", NO_CODE_REFUSAL, None),
        ("code_once", 1, False, "code", CODE_ONCE_REFUSAL, None),
        ("csv", None, True, "code", None, REVISE_MESSAGE_CODE),
        ("nl_verify", None, True, "text", None, REVISE_MESSAGE_TEXT),
    ],
)
def test_rules_per_strategy(
    name: str,
    limit: int | None,
    verifies: bool,
    medium: str,
    refusal: str | None,
    revise: str | None,
) -> None:
    strategy = get_strategy(name)
    assert strategy.max_code_executions == limit
    assert strategy.wants_verification is verifies
    assert strategy.verification_medium == medium
    assert strategy.code_refusal == refusal
    assert strategy.revise_message == revise


@pytest.mark.parametrize(
    ("name", "done", "allowed"),
    [
        ("basic", 0, True),
        ("basic", 50, True),
        ("csv", 16, True),
        ("no_code", 0, False),
        ("code_once", 0, True),
        ("code_once", 1, False),
        ("code_once", 2, False),
    ],
)
def test_allows_execution(name: str, done: int, allowed: bool) -> None:
    assert get_strategy(name).allows_execution(done) is allowed


def test_unknown_strategy_lists_valid_names() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown strategy 'cot'.*basic, no_code, code_once, csv, nl_verify"
    ):
        get_strategy("cot")


def test_messages_say_what_they_must() -> None:
    assert "not allowed" in NO_CODE_REFUSAL and "not run" in NO_CODE_REFUSAL
    assert "only 1 time" in CODE_ONCE_REFUSAL and "not run" in CODE_ONCE_REFUSAL
    for message in (REVISE_MESSAGE_CODE, REVISE_MESSAGE_TEXT):
        assert "revise your answer" in message and "verify it again" in message
    assert "code interpreter" in REVISE_MESSAGE_CODE
    assert "without using code" in REVISE_MESSAGE_TEXT


def test_tool_use_hints() -> None:
    assert tool_use_hint("function") is None
    hint = tool_use_hint("fenced")
    assert hint == FENCED_TEXT_HINT and "```python" in hint and "```output" in hint
    with pytest.raises(ConfigError, match="fenced, function"):
        tool_use_hint("xml")


def test_strategy_validation_and_frozen() -> None:
    with pytest.raises(ConfigError, match="exactly once"):
        Strategy("bad", "no placeholder")
    with pytest.raises(ConfigError, match="max_code_executions"):
        Strategy("bad", "{Question}", max_code_executions=-1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_strategy("basic").template = "x"  # type: ignore[misc]
