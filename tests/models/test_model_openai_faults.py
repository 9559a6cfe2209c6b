"""The OpenAI-compatible backend against a real local HTTP server that injects faults."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.models.chat_fault_server import (
    DROP,
    HANG,
    MALFORMED,
    PARTIAL,
    Fault,
    FaultyChatServer,
    status,
)
from tests.models.model_helpers import free_port
from verimath.errors import (
    ModelAuthError,
    ModelConnectionError,
    ModelNotFoundError,
    ModelResponseError,
)
from verimath.models import (
    FENCED_STOP,
    PYTHON_TOOL,
    GenerateConfig,
    Message,
    Price,
    RetryPolicy,
    resolve_model,
    tool_call_code,
)
from verimath.models.openai_compat import OpenAIModel

FAST_RETRY = RetryPolicy(max_attempts=8, base_delay_s=0.01, max_delay_s=5.0)
QUESTION = [Message("system", "be brief"), Message("user", "What is 6 * 7?")]


def model_for(server: FaultyChatServer, **options: object) -> OpenAIModel:
    options = {"retry": FAST_RETRY, "timeout_s": 0.5, **options}
    model = resolve_model(f"openai:tiny@{server.base_url}", **options)
    assert isinstance(model, OpenAIModel)
    return model


async def test_every_fault_is_retried_and_nothing_is_lost() -> None:
    faults = [
        status(429, retry_after="1"),
        status(500),
        HANG,
        MALFORMED,
        DROP,
        PARTIAL,
        status(503),
    ]
    with FaultyChatServer(faults) as server:
        async with model_for(server) as model:
            [completion] = await model.generate(QUESTION, GenerateConfig(seed=5))

    assert completion.message.content == "echo: What is 6 * 7?"
    assert len(server.seen) == len(faults) + 1
    assert all(seen.body == server.seen[0].body for seen in server.seen)
    assert server.seen[1].at - server.seen[0].at >= 0.95  # Retry-After: 1 honoured
    assert server.seen[3].at - server.seen[2].at >= 0.5  # the hang lasted the client timeout
    assert completion.latency_s >= 1.5
    assert completion.usage.prompt_tokens == 11 and completion.usage.completion_tokens == 7


async def test_retry_after_ms_wins_over_retry_after() -> None:
    with FaultyChatServer([status(429, retry_after_ms="300", retry_after="30")]) as server:
        async with model_for(server) as model:
            await model.generate(QUESTION, GenerateConfig())
    assert 0.25 <= server.seen[1].at - server.seen[0].at < 5


async def test_retry_after_is_capped() -> None:
    retry = RetryPolicy(max_attempts=2, base_delay_s=0.0, max_delay_s=0.2)
    with FaultyChatServer([status(503, retry_after="3600")]) as server:
        async with model_for(server, retry=retry) as model:
            await model.generate(QUESTION, GenerateConfig())
    assert server.seen[1].at - server.seen[0].at < 1


@pytest.mark.parametrize(
    ("fault", "detail"),
    [
        (status(500), "HTTP 500 Internal Server Error: injected 500"),
        (status(429, retry_after="0"), "HTTP 429 Too Many Requests: injected 429"),
        (HANG, "no complete answer within the 0.5 s deadline (--request-timeout)"),
        (DROP, "Connection error"),
    ],
)
async def test_a_clear_message_when_retries_run_out(fault: Fault, detail: str) -> None:
    retry = RetryPolicy(max_attempts=3, base_delay_s=0.01)
    with FaultyChatServer([fault] * 3) as server:
        async with model_for(server, retry=retry) as model:
            with pytest.raises(ModelConnectionError) as caught:
                await model.generate(QUESTION, GenerateConfig())
    message = str(caught.value)
    assert message.startswith(f"could not reach {server.base_url} after 3 attempts: ")
    assert detail in message
    assert len(server.seen) == 3


async def test_persistent_malformed_json_is_a_response_error() -> None:
    retry = RetryPolicy(max_attempts=2, base_delay_s=0.01)
    with FaultyChatServer([MALFORMED] * 2) as server:
        async with model_for(server, retry=retry) as model:
            with pytest.raises(ModelResponseError, match=r"\(2 attempts\): malformed JSON"):
                await model.generate(QUESTION, GenerateConfig())


@pytest.mark.parametrize(
    ("code", "error", "text"),
    [
        (
            401,
            ModelAuthError,
            "refused the API key (HTTP 401 Unauthorized: injected 401); set OPENAI_API_KEY",
        ),
        (403, ModelAuthError, "refused the API key"),
        (404, ModelNotFoundError, "has no model 'tiny' (HTTP 404"),
        (400, ModelResponseError, "rejected the request (HTTP 400 Bad Request: injected 400)"),
    ],
)
async def test_client_errors_are_not_retried(code: int, error: type, text: str) -> None:
    with FaultyChatServer([status(code)]) as server:
        async with model_for(server) as model:
            with pytest.raises(error, match=re.escape(text)):
                await model.generate(QUESTION, GenerateConfig())
    assert len(server.seen) == 1


async def test_concurrency_is_bounded_and_answers_stay_with_their_requests() -> None:
    prompts = [[Message("user", f"question {i}")] for i in range(8)]
    with FaultyChatServer([status(500), DROP], delay_s=0.15) as server:
        async with model_for(server, max_concurrency=2, timeout_s=5) as model:
            results = await asyncio.gather(*(model.generate(p, GenerateConfig()) for p in prompts))
    assert [r[0].message.content for r in results] == [f"echo: question {i}" for i in range(8)]
    assert server.max_in_flight == 2
    assert len(server.seen) == 8 + 2


async def test_missing_choices_are_requested_again_with_later_seeds() -> None:
    with FaultyChatServer(max_choices=1) as server:
        async with model_for(server) as model:
            completions = await model.generate(QUESTION, GenerateConfig(n=3, seed=7))
    assert [(s.body["n"], s.body["seed"]) for s in server.seen] == [(3, 7), (2, 8), (1, 9)]
    assert len(completions) == 3
    assert completions[0].usage.prompt_tokens == 3 * 11
    assert completions[0].usage.completion_tokens == 3 * 7
    assert all(c.usage.prompt_tokens == c.usage.completion_tokens == 0 for c in completions[1:])
    assert [c.request["seed"] for c in completions if c.request] == [7, 8, 9]


async def test_n_and_seed_pass_through_in_one_request() -> None:
    with FaultyChatServer() as server:
        async with model_for(server) as model:
            completions = await model.generate(QUESTION, GenerateConfig(n=4, seed=3))
    [seen] = server.seen
    assert seen.body["n"] == 4 and seen.body["seed"] == 3
    assert len(completions) == 4 and completions[0].response == completions[3].response


async def test_request_body_is_exactly_what_was_sent() -> None:
    config = GenerateConfig(temperature=0.2, top_p=0.9, max_tokens=77, stop=FENCED_STOP, seed=1)
    with FaultyChatServer() as server:
        async with model_for(server, extra_body={"top_k": 20}) as model:
            [completion] = await model.generate(QUESTION, config)
    assert completion.request == server.seen[0].body
    assert server.seen[0].body == {
        "model": "tiny",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "What is 6 * 7?"},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 77,
        "n": 1,
        "stop": ["```output"],
        "seed": 1,
        "top_k": 20,
    }


async def test_function_style_offers_the_python_tool_and_reads_calls() -> None:
    with FaultyChatServer() as server:
        async with model_for(server) as model:
            [completion] = await model.generate(QUESTION, GenerateConfig(), tools=True)
            history = [
                *QUESTION,
                completion.message,
                Message("tool", "42", tool_call_id=completion.message.tool_calls[0].id),
            ]
            await model.generate(history, GenerateConfig(), tools=True)
    assert server.seen[0].body["tools"] == [PYTHON_TOOL]
    assert completion.finish_reason == "tool_calls" and completion.message.content == ""
    assert tool_call_code(completion.message.tool_calls[0]) == "print(6*7)"
    assert server.seen[1].body["messages"][2:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "python", "arguments": '{"code": "print(6*7)"}'},
                }
            ],
        },
        {"role": "tool", "content": "42", "tool_call_id": "call_0"},
    ]


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        ("```python\nprint(1)\n```\n", "```python\nprint(1)\n```"),
        ("```python\nprint(1)\n```\n```output\n1\n```\nDone", "```python\nprint(1)\n```"),
        ("The answer is $\\boxed{1}$.\n", "The answer is $\\boxed{1}$.\n"),
    ],
)
async def test_fenced_content_ends_at_the_closing_fence(served: str, expected: str) -> None:
    with FaultyChatServer([Fault("ok", content=served)]) as server:
        async with model_for(server) as model:
            [completion] = await model.generate(QUESTION, GenerateConfig(stop=FENCED_STOP))
    assert completion.message.content == expected


async def test_key_is_sent_and_cost_uses_the_given_price(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-test-123")
    with FaultyChatServer() as server:
        options = {"api_key_env": "MY_KEY", "price": Price(1.0, 2.0)}
        async with model_for(server, **options) as model:
            [completion] = await model.generate(QUESTION, GenerateConfig())
    assert server.seen[0].headers["authorization"] == "Bearer sk-test-123"
    assert completion.usage.cost_usd == pytest.approx((11 * 1.0 + 7 * 2.0) / 1e6)


async def test_self_hosted_models_need_no_key_and_have_no_known_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FaultyChatServer() as server:
        async with resolve_model(f"openai:gpt-4o@{server.base_url}") as model:
            [completion] = await model.generate(QUESTION, GenerateConfig())
    assert completion.usage.cost_usd is None


async def test_nothing_listening() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    async with OpenAIModel("tiny", base_url=dead, retry=RetryPolicy(2, 0.01)) as model:
        with pytest.raises(ModelConnectionError, match=f"could not reach {dead} after 2 attempts"):
            await model.generate(QUESTION, GenerateConfig())
