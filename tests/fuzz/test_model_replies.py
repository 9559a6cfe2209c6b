"""Fuzzing the OpenAI-compatible backend with hostile replies served by a real local server.

Hypothesis builds each reply: a status, headers, a content encoding (honest, lying or unknown),
chunked or sized transfer (sometimes with a lying length), a body that is a chat completion with
fields replaced by any JSON, deep nesting, huge numbers, bad UTF-8, truncated or random bytes,
and decompression bombs. The property: the backend returns completions or raises a
``ModelError``, nothing else, and memory stays bounded; through the command line, ``solve``
ends with exit 0, 2 or 3 and no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.models.reply_server import MiB, Reply, ReplyServer, completion
from verimath.errors import ModelError
from verimath.models import Completion, GenerateConfig, Message, RetryPolicy, resolve_model

QUESTION = [Message("user", "What is 6 * 7?")]
CAP_MB = 1
"""The reply cap under fuzzing: small, so that a bomb is cheap to stop and to notice."""
PEAK_GROWTH_LIMIT_KIB = 64 * 1024
RETRY = RetryPolicy(max_attempts=2, base_delay_s=0.0, max_delay_s=0.01)
DEADLINE_S = 3.0
CLI_GUARD_S = 120

STATUSES = [200] * 12 + [201, 204, 302, 304, 400, 401, 403, 404, 408, 413, 418, 429, 500, 503, 599]
PATHS: list[tuple[Any, ...]] = [
    (),
    ("choices",),
    ("choices", 0),
    ("choices", 0, "message"),
    ("choices", 0, "message", "content"),
    ("choices", 0, "message", "tool_calls"),
    ("choices", 0, "message", "tool_calls", 0, "function"),
    ("choices", 0, "message", "tool_calls", 0, "function", "arguments"),
    ("choices", 0, "finish_reason"),
    ("choices", 0, "index"),
    ("usage",),
    ("usage", "prompt_tokens"),
    ("error",),
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["\x1b]0;t\x07", "\u202e", "\ud800", "9" * 5000]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def _with_tool_call() -> dict[str, Any]:
    reply = completion()
    arguments = json.dumps({"code": "print(1)"})
    call = {"id": "c0", "type": "function", "function": {"name": "python", "arguments": arguments}}
    reply["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [call]}
    return reply


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    with contextlib.suppress(KeyError, IndexError, TypeError):
        document[path[0]] = _replace(document[path[0]], path[1:], value)
    return document


@st.composite
def completions(draw: st.DrawFn) -> bytes:
    """A chat completion, some of its fields replaced by any JSON value, as bytes."""
    document = _with_tool_call() if draw(st.booleans()) else completion()
    for path in draw(st.lists(st.sampled_from(PATHS), max_size=3)):
        document = _replace(document, path, draw(json_values))
    text = json.dumps(document, ensure_ascii=draw(st.booleans()), allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(["completion", "completion", "deep", "broken", "bytes", "bad", "number"])
    )
    if kind == "number":  # past the 4,300 digits Python converts
        digits = b"9" * draw(st.integers(min_value=1, max_value=10_000))
        return b'{"choices": [{"index": %s, "message": {"content": "x"}}]}' % digits
    if kind == "deep":
        depth = draw(st.integers(min_value=60, max_value=200_000))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        return opener * depth + b"1" + closer * depth
    body = draw(completions())
    if kind == "broken":
        return body[: draw(st.integers(min_value=0, max_value=len(body)))]
    if kind == "bad":
        at = draw(st.integers(min_value=0, max_value=len(body)))
        return body[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + body[at:]
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    return body


@st.composite
def encoded(draw: st.DrawFn, body: bytes) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """The body under a content encoding, honest or not, or a bomb."""
    how = draw(
        st.sampled_from(["none"] * 4 + ["gzip", "deflate", "gzip2", "lie", "unknown", "bomb"])
    )
    if how == "gzip":
        return _gzip(body), (("Content-Encoding", "gzip"),)
    if how == "deflate":
        return zlib.compress(body), (("Content-Encoding", "deflate"),)
    if how == "gzip2":
        return _gzip(_gzip(body)), (("Content-Encoding", "gzip, gzip"),)
    if how == "lie":
        return body, (("Content-Encoding", draw(st.sampled_from(["gzip", "deflate"]))),)
    if how == "unknown":
        return body, (("Content-Encoding", draw(st.sampled_from(["br", "zstd", "x\x01"]))),)
    if how == "bomb":
        return _bomb(draw(st.integers(min_value=2, max_value=16))), (("Content-Encoding", "gzip"),)
    return body, ()


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    body, encoding = draw(encoded(draw(bodies())))
    content_type = draw(st.sampled_from(["application/json", "text/html", "", "application/x"]))
    extra = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["Retry-After", "retry-after-ms", "X-Request-Id", "Set-Cookie"]),
                st.text(alphabet="0123456789abc -.:", max_size=12),
            ),
            max_size=2,
        )
    )
    headers = tuple(([("Content-Type", content_type)] if content_type else []) + list(encoding))
    lie = draw(st.sampled_from([None, None, None, 0, len(body) // 2, len(body) + 7]))
    return Reply(
        body,
        status=draw(st.sampled_from(STATUSES)),
        headers=headers + tuple(extra),
        chunked=draw(st.booleans()),
        piece=draw(st.sampled_from([0, 0, 1, 7, 4096])) if len(body) < 2_000 else 0,
        declared_length=lie,
        close=draw(st.booleans()),
    )


def _gzip(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    return packer.compress(data) + packer.flush()


def _bomb(mib: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MiB)
    return b"".join(packer.compress(zeros) for _ in range(mib)) + packer.flush()


class Stage:
    """The reply the server gives next (one per example)."""

    def __init__(self) -> None:
        self.reply = Reply(json.dumps(completion()).encode())

    def __call__(self) -> Reply:
        return self.reply


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Stage, ReplyServer]]:
    stage = Stage()
    with ReplyServer(stage) as server:
        yield stage, server


def peak_rss_kib() -> int:
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])


async def generate_once(base_url: str, tools: bool) -> list[Completion]:
    model = resolve_model(
        f"openai:tiny@{base_url}", retry=RETRY, timeout_s=DEADLINE_S, max_response_mb=CAP_MB
    )
    async with model:
        return await model.generate(QUESTION, GenerateConfig(seed=1), tools=tools)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])  # fmt: skip
@given(reply=replies(), tools=st.booleans())
def test_any_reply_ends_in_completions_or_a_model_error(
    served: tuple[Stage, ReplyServer], reply: Reply, tools: bool
) -> None:
    stage, server = served
    stage.reply = reply
    try:
        done = asyncio.run(generate_once(server.base_url, tools))
    except ModelError as exc:
        event(type(exc).__name__)
        message = str(exc)
        assert message and "\n" not in message.strip(), message
        return
    event("completions")
    assert done and all(isinstance(c.message.content, str) for c in done)


def test_fuzzing_keeps_memory_bounded(served: tuple[Stage, ReplyServer]) -> None:
    # a bomb of 64 MiB behind a 1 MiB cap, many times over: the peak does not move much
    stage, server = served
    before = peak_rss_kib()
    stage.reply = Reply(_bomb(64), headers=(("Content-Encoding", "gzip"),))
    for _ in range(5):
        with pytest.raises(ModelError):
            asyncio.run(generate_once(server.base_url, False))
    assert peak_rss_kib() - before < PEAK_GROWTH_LIMIT_KIB


@pytest.mark.slow
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])  # fmt: skip
@given(reply=replies())
def test_solve_ends_with_exit_0_2_or_3_and_no_traceback(
    served: tuple[Stage, ReplyServer], reply: Reply
) -> None:
    stage, server = served
    stage.reply = reply
    command = [
        sys.executable, "-m", "verimath", "solve", "What is 6*7?", "--model",
        f"openai:tiny@{server.base_url}", "-k", "1", "--retries", "0",
        "--request-timeout", str(DEADLINE_S), "--max-response-mb", str(CAP_MB),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=CLI_GUARD_S)
    assert result.returncode in (0, 2, 3), result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    if result.returncode == 2:
        assert len([x for x in result.stderr.splitlines() if x.startswith("Error:")]) == 1
