"""The local backend on a real llama.cpp running a tiny random-weight GGUF written at test time."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from tests.models.model_helpers import Notebook
from verimath.errors import (
    ConfigError,
    ModelContextLengthError,
    ModelError,
    ModelNotFoundError,
)
from verimath.models import (
    FENCED_STOP,
    GenerateConfig,
    Message,
    fence_output,
    resolve_model,
)
from verimath.models.local import LocalModel
from verimath.models.transcripts import split_turn

QUESTION = "What is 6 times 7? Put the answer in \\boxed{}."
SOLVE_THEN_ANSWER = [
    "I will compute it.\n```python\nx = 6 * 7\nprint(x)\n```\n```output\n42\n```\n",
    "So the answer is $\\boxed{42}$.",
]
CHECK_FAILS_THEN_REVISE = [
    "```python\nanswer = 6 * 6\nprint(answer)\n```\n```output\n",
    "Let me verify with code.\n```python\nassert answer == 42 / 6 * 7 / 7 * 6, answer\n```\n"
    "```output\n",
    "The check failed, so I revise.\n```python\nanswer = 6 * 7\nassert answer // 7 == 6\n"
    "print(answer)\n```\n```output\n",
    "The revised answer passes its check: $\\boxed{42}$.",
]


@pytest.fixture
async def scripted(tiny_gguf: Path) -> AsyncIterator[LocalModel]:
    model = LocalModel(tiny_gguf, script=SOLVE_THEN_ANSWER)
    yield model
    await model.aclose()


async def solve(model: LocalModel, notebook: Notebook) -> list[tuple[str, str | None]]:
    """A minimal fenced agent loop: the turns the model wrote, and what their code printed."""
    messages = [Message("user", QUESTION)]
    turns: list[tuple[str, str | None]] = []
    config = GenerateConfig(stop=FENCED_STOP, seed=1)
    for _ in range(8):
        [completion] = await model.generate(messages, config)
        messages.append(completion.message)
        code = split_turn(completion.message.content).code
        output = None if code is None else notebook.run(code)
        turns.append((completion.message.content, output))
        if output is None:
            return turns
        messages.append(Message("user", fence_output(output.rstrip("\n"))))
    raise AssertionError(f"no final answer after {len(turns)} turns")


async def test_scripted_code_block_then_boxed_answer(
    scripted: LocalModel, notebook: Notebook
) -> None:
    turns = await solve(scripted, notebook)

    assert [content for content, _ in turns] == [
        "I will compute it.\n```python\nx = 6 * 7\nprint(x)\n```",
        "So the answer is $\\boxed{42}$.",
    ]
    assert turns[0][1] == "42\n"


async def test_failing_check_then_revision(tiny_gguf: Path, notebook: Notebook) -> None:
    model = LocalModel(tiny_gguf, script=CHECK_FAILS_THEN_REVISE)
    try:
        turns = await solve(model, notebook)
    finally:
        await model.aclose()

    assert len(turns) == 4
    assert all(content.endswith("```") for content, _ in turns[:3])
    assert "AssertionError: 36" in (turns[1][1] or "")
    assert turns[2][1] == "42\n"
    assert turns[3] == ("The revised answer passes its check: $\\boxed{42}$.", None)


async def test_completion_records_request_usage_and_finish(scripted: LocalModel) -> None:
    config = GenerateConfig(stop=FENCED_STOP, seed=3, max_tokens=512)
    [completion] = await scripted.generate([Message("user", QUESTION)], config)

    assert completion.finish_reason == "stop"
    assert completion.usage.prompt_tokens > len(QUESTION) // 2
    assert completion.usage.completion_tokens >= len("x = 6 * 7") + 1
    assert completion.usage.cost_usd == 0.0
    assert completion.request is not None and completion.request["stop"] == ["```output"]
    assert completion.request["grammar"].startswith("root ::= ")
    assert completion.response is not None and completion.response["object"] == "chat.completion"


async def test_chat_template_comes_from_the_gguf(scripted: LocalModel) -> None:
    [completion] = await scripted.generate([Message("user", "hi")], GenerateConfig(stop=("```",)))
    prompt_tokens = completion.usage.prompt_tokens
    # ChatML: <|im_start|> "user\nhi" <|im_end|> "\n" <|im_start|> "assistant\n"; bytes are
    # single tokens in the tiny vocabulary, the markers one control token each.
    assert prompt_tokens == 1 + len("user\nhi") + 1 + 1 + 1 + len("assistant\n")


async def test_n_choices_with_consecutive_seeds_and_usage_on_the_first(tiny_gguf: Path) -> None:
    model = LocalModel(tiny_gguf, grammar="root ::= [a-z]+")
    config = GenerateConfig(n=3, seed=11, max_tokens=40, temperature=1.0)
    try:
        first = await model.generate([Message("user", QUESTION)], config)
        again = await model.generate([Message("user", QUESTION)], config)
    finally:
        await model.aclose()

    assert len(first) == 3
    assert [c.message.content for c in first] == [c.message.content for c in again]
    assert len({c.message.content for c in first}) == 3
    assert all(re.fullmatch("[a-z]+", c.message.content) for c in first)
    assert [c.request["seed"] for c in first if c.request] == [11, 12, 13]
    per_call = [c.response["usage"] for c in first if c.response]
    assert first[0].usage.completion_tokens == sum(u["completion_tokens"] for u in per_call)
    assert first[0].usage.prompt_tokens == sum(u["prompt_tokens"] for u in per_call)
    assert first[1].usage.completion_tokens == first[2].usage.prompt_tokens == 0


async def test_running_out_of_tokens_is_finish_reason_length(tiny_gguf: Path) -> None:
    model = LocalModel(tiny_gguf, script=["abcdefghij" * 5])
    try:
        [completion] = await model.generate([Message("user", "q")], GenerateConfig(max_tokens=7))
    finally:
        await model.aclose()
    assert completion.finish_reason == "length"
    assert completion.message.content == "abcdefg"


async def test_concurrent_calls_match_sequential_ones(tiny_gguf: Path) -> None:
    model = LocalModel(tiny_gguf)
    prompts = [[Message("user", f"question {i}")] for i in range(4)]
    configs = [GenerateConfig(seed=i, max_tokens=10, temperature=1.0) for i in range(4)]
    try:
        together = await asyncio.gather(
            *(model.generate(p, c) for p, c in zip(prompts, configs, strict=True))
        )
        one_by_one = [await model.generate(p, c) for p, c in zip(prompts, configs, strict=True)]
    finally:
        await model.aclose()
    assert [r[0].message.content for r in together] == [r[0].message.content for r in one_by_one]
    assert len({r[0].message.content for r in together}) == 4


async def test_grammar_forces_any_text(tiny_gguf: Path) -> None:
    awkward = 'quotes " and \\ backslash\ttab, unicode \u2019\u00e9\u4e2d, ```fence``` \x01'
    model = LocalModel(tiny_gguf, script=[awkward])
    try:
        [completion] = await model.generate([Message("user", "x")], GenerateConfig())
    finally:
        await model.aclose()
    assert completion.message.content == awkward


async def test_script_too_short_and_function_style_are_refused(scripted: LocalModel) -> None:
    history: Sequence[Message] = [
        Message("user", "q"),
        Message("assistant", "a"),
        Message("user", "b"),
        Message("assistant", "c"),
    ]
    with pytest.raises(ConfigError, match="the script has 2 turns, turn 3 was asked"):
        await scripted.generate(history, GenerateConfig())
    with pytest.raises(ConfigError, match="no native function calling"):
        await scripted.generate([Message("user", "q")], GenerateConfig(), tools=True)


def test_resolve_local_path(tiny_gguf: Path) -> None:
    model = resolve_model(f"local:{tiny_gguf}", n_ctx=1024)
    assert isinstance(model, LocalModel)
    assert model.name == f"local:{tiny_gguf}"
    assert model.tool_styles == frozenset({"fenced"})
    asyncio.run(model.aclose())


def test_missing_file_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=re.escape(str(tmp_path / "nope.gguf"))):
        resolve_model(f"local:{tmp_path / 'nope.gguf'}")


async def test_a_closed_model_says_so(tiny_gguf: Path) -> None:
    model = LocalModel(tiny_gguf)
    await model.aclose()
    await model.aclose()
    with pytest.raises(ModelError, match="is closed"):
        await model.generate([Message("user", "q")], GenerateConfig())


async def test_a_prompt_longer_than_the_context_is_a_clear_error(tiny_gguf: Path) -> None:
    model = LocalModel(tiny_gguf, n_ctx=256)
    try:
        with pytest.raises(
            ModelContextLengthError,  # a sample meeting it ends with stop reason "context"
            match=r"conversation is 300 tokens or more.*holds 256; pass a larger n_ctx",
        ):
            await model.generate([Message("user", "x" * 300)], GenerateConfig())
    finally:
        await model.aclose()


def test_a_file_that_is_not_gguf_is_a_model_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelError, match=r"llama\.cpp could not load"):
        LocalModel(bogus)
