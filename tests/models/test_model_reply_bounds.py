"""A model server's reply is read within bounds: size raw and decompressed, JSON depth, shape,
and a total deadline per request; every violation is one ModelError naming the server."""

from __future__ import annotations

import json
import zlib

import pytest

from tests.models.reply_server import (
    JSON,
    MiB,
    Reply,
    ReplyServer,
    completion,
    gzip_bomb,
    gzipped,
)
from verimath.errors import ModelConnectionError, ModelError, ModelResponseError
from verimath.models import GenerateConfig, Message, RetryPolicy, resolve_model
from verimath.models.openai_compat import OpenAIModel

QUESTION = [Message("user", "What is 6 * 7?")]
NO_RETRY = RetryPolicy(max_attempts=1)
ANSWER = json.dumps(completion()).encode()


def model_for(server: ReplyServer, **options: object) -> OpenAIModel:
    model = resolve_model(f"openai:tiny@{server.base_url}", **{"retry": NO_RETRY, **options})
    assert isinstance(model, OpenAIModel)
    return model


async def ask(server: ReplyServer, **options: object) -> str:
    async with model_for(server, **options) as model:
        [done] = await model.generate(QUESTION, GenerateConfig())
    return done.message.content


async def refused(server: ReplyServer, **options: object) -> str:
    with pytest.raises(ModelError) as caught:
        await ask(server, **options)
    message = str(caught.value)
    assert server.base_url in message and "\n" not in message
    return message


@pytest.mark.parametrize(
    "encoding, body",
    [
        ("gzip", gzipped(ANSWER)),
        ("deflate", zlib.compress(ANSWER)),
        ("deflate", zlib.compress(ANSWER)[2:-4]),  # raw deflate, as some servers send it
        ("gzip, gzip", gzipped(gzipped(ANSWER))),
        ("identity", ANSWER),
    ],
)
async def test_compressed_replies_are_read(encoding: str, body: bytes) -> None:
    reply = Reply(body, headers=(*JSON, ("Content-Encoding", encoding)))
    with ReplyServer(lambda: reply) as server:
        assert await ask(server) == "The answer is \\boxed{42}."


async def test_a_gzip_bomb_is_stopped_at_the_cap() -> None:
    bomb = gzip_bomb(512)
    assert len(bomb) < 600 * 1024
    reply = Reply(bomb, headers=(*JSON, ("Content-Encoding", "gzip")))
    with ReplyServer(lambda: reply) as server:
        message = await refused(server, max_response_mb=4)
    assert "inflates to more than 4 MiB" in message and "--max-response-mb" in message
    assert message.startswith(f"{server.base_url} sent a gzip reply")


async def test_a_raw_reply_over_the_cap_is_refused_while_it_arrives() -> None:
    reply = Reply(b" " * MiB, repeat_body=64)  # 64 MiB declared and sent, never all read
    with ReplyServer(lambda: reply) as server:
        message = await refused(server, max_response_mb=1)
    assert "a reply larger than 1 MiB (--max-response-mb)" in message


async def test_an_encoding_not_asked_for_is_refused() -> None:
    reply = Reply(b"\x1b\x00\x00", headers=(*JSON, ("Content-Encoding", "br")))
    with ReplyServer(lambda: reply) as server:
        message = await refused(server)
    assert "content encoding 'br', which was not asked for" in message


async def test_damaged_gzip_is_one_error() -> None:
    reply = Reply(gzipped(ANSWER)[:-9], headers=(*JSON, ("Content-Encoding", "gzip")))
    with ReplyServer(lambda: reply) as server:
        assert "cannot be decoded" in await refused(server)


async def test_json_nested_100000_deep_is_refused() -> None:
    reply = Reply(b"[" * 100_000 + b"]" * 100_000)
    with ReplyServer(lambda: reply) as server:
        assert "answered JSON nested deeper than 64 levels" in await refused(server)


async def test_an_error_body_nested_900_deep_is_described_in_one_line() -> None:
    deep = {"error": {"message": 1, "detail": json.loads("[" * 900 + "]" * 900)}}
    reply = Reply(json.dumps(deep).encode(), status=400)
    with ReplyServer(lambda: reply) as server:
        message = await refused(server)
    assert "HTTP 400" in message and "nested deeper than 64 levels" in message


async def test_a_number_of_5000_digits_is_refused() -> None:
    # found by tests/fuzz/test_model_replies.py: json.loads raises a bare ValueError for it
    reply = Reply(b'{"choices": [{"index": %s, "message": {"content": "x"}}]}' % (b"9" * 5000))
    with ReplyServer(lambda: reply) as server:
        assert "answered JSON that cannot be read: Exceeds the limit" in await refused(server)


async def test_invalid_utf8_is_refused() -> None:
    reply = Reply(b'{"choices": "\xff\xfe"}')
    with ReplyServer(lambda: reply) as server:
        assert "not valid UTF-8" in await refused(server)


@pytest.mark.parametrize(
    "reply",
    [
        {"choices": [{"message": {"content": 42}}]},
        {"choices": [{"message": {"content": "x"}, "finish_reason": ["stop"]}]},
        {"choices": [{"message": {"tool_calls": [{"function": {"name": 1}}]}}]},
        {"choices": [{"message": {"tool_calls": [{"function": {"name": "python",
                                                               "arguments": {"code": 1}}}]}}]},
        {"choices": [7]},
        {"choices": []},
    ],
)  # fmt: skip
async def test_a_reply_of_the_wrong_shape_is_refused(reply: dict[str, object]) -> None:
    body = json.dumps(reply).encode()
    with ReplyServer(lambda: Reply(body)) as server, pytest.raises(ModelResponseError):
        await ask(server)


@pytest.mark.parametrize("usage", [[1, 2], {"prompt_tokens": "many"}, {"prompt_tokens": 1e400}])
async def test_unusable_token_counts_count_as_zero(usage: object) -> None:
    body = json.dumps({**completion(), "usage": usage}).encode()
    with ReplyServer(lambda: Reply(body)) as server:
        async with model_for(server) as model:
            [done] = await model.generate(QUESTION, GenerateConfig())
    assert done.usage.prompt_tokens == 0


async def test_a_trickling_server_meets_the_total_deadline() -> None:
    # one byte every 0.2 s: no single read ever waits as long as the 1 s timeout
    reply = Reply(ANSWER, piece=1, pause_s=0.2)
    with ReplyServer(lambda: reply) as server, pytest.raises(ModelConnectionError) as caught:
        await ask(server, timeout_s=1.0, retry=RetryPolicy(max_attempts=2, base_delay_s=0))
    message = str(caught.value)
    assert "after 2 attempts: no complete answer within the 1 s deadline" in message
    assert server.requests == 2


async def test_a_proxy_from_the_environment_is_used_and_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the "proxy" is the local reply server: the model's host is never looked up
    bomb = Reply(gzip_bomb(64), headers=(*JSON, ("Content-Encoding", "gzip")))
    replies = iter([Reply(ANSWER), bomb])
    with ReplyServer(lambda: next(replies)) as proxy:
        for name in ("no_proxy", "NO_PROXY", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url.removesuffix("/v1"))
        model = resolve_model("openai:tiny@http://model.invalid/v1", retry=NO_RETRY)
        async with model:
            [done] = await model.generate(QUESTION, GenerateConfig())
            with pytest.raises(ModelResponseError, match="inflates to more than 32 MiB"):
                await model.generate(QUESTION, GenerateConfig())
    assert done.message.content == "The answer is \\boxed{42}."
    assert proxy.requests == 2
