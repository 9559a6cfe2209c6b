"""The OpenAI-compatible backend over real HTTP: ``python -m llama_cpp.server`` on 127.0.0.1
serving the tiny GGUF, with grammars (an extra body field of that server) forcing the text."""

from __future__ import annotations

import pytest

from verimath.models import FENCED_STOP, GenerateConfig, Message, fence_output
from verimath.models.grammar import literal_grammar
from verimath.models.openai_compat import OpenAIModel

pytestmark = pytest.mark.slow

QUESTION = [Message("user", "What is 6 times 7?")]
CODE_TURN = "Let me compute.\n```python\nprint(6 * 7)\n```\n```output\n42\n```\n"
ANSWER_TURN = "The answer is $\\boxed{42}$."


def served(base_url: str, grammar: str | None = None) -> OpenAIModel:
    extra_body = {} if grammar is None else {"grammar": grammar}
    return OpenAIModel("tiny", base_url=base_url, timeout_s=60, extra_body=extra_body)


async def test_scripted_transcript_over_http(llama_server: str) -> None:
    config = GenerateConfig(stop=FENCED_STOP, seed=1, max_tokens=256)
    async with served(llama_server, literal_grammar(CODE_TURN)) as model:
        [code] = await model.generate(QUESTION, config)
        model.extra_body["grammar"] = literal_grammar(ANSWER_TURN)
        history = [*QUESTION, code.message, Message("user", fence_output("42"))]
        [answer] = await model.generate(history, config)

    assert code.message.content == "Let me compute.\n```python\nprint(6 * 7)\n```"
    assert code.finish_reason == "stop"
    assert answer.message.content == ANSWER_TURN
    assert code.usage.prompt_tokens > 0 and code.usage.completion_tokens > 0
    assert answer.usage.prompt_tokens > code.usage.prompt_tokens
    assert code.usage.cost_usd is None
    assert code.response is not None and code.response["object"] == "chat.completion"


async def test_seeded_sampling_is_reproducible_and_n_is_filled_in(llama_server: str) -> None:
    config = GenerateConfig(n=3, seed=21, max_tokens=16, temperature=1.0)
    async with served(llama_server, "root ::= [a-z ]+") as model:
        first = await model.generate(QUESTION, config)
        again = await model.generate(QUESTION, config)

    assert len(first) == 3  # the server ignores n: the backend asks again for the rest
    assert [c.message.content for c in first] == [c.message.content for c in again]
    assert len({c.message.content for c in first}) == 3
    assert [c.request["seed"] for c in first if c.request] == [21, 22, 23]
    assert first[1].usage.completion_tokens == 0 < first[0].usage.completion_tokens


async def test_max_tokens_gives_finish_reason_length(llama_server: str) -> None:
    async with served(llama_server, literal_grammar("x" * 200)) as model:
        [c] = await model.generate(QUESTION, GenerateConfig(max_tokens=5))
    assert c.finish_reason == "length" and c.message.content == "xxxxx"
