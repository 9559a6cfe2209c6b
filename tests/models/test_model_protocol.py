"""The protocol's data, the fenced format, retry timing, prices and the backend registry."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from verimath.errors import ConfigError, ModelAuthError, ModelError, ModelResponseError
from verimath.models import (
    DEFAULT_LOCAL_MODEL,
    ChatModel,
    Completion,
    GenerateConfig,
    Message,
    RetryPolicy,
    Segment,
    ToolCall,
    Usage,
    backends,
    register_backend,
    resolve_model,
    tool_call_code,
)
from verimath.models.local import hub_file_from_spec
from verimath.models.openai_compat import OpenAIModel, parse_openai_spec
from verimath.models.pricing import Price, cost_usd, openai_price
from verimath.models.retry import parse_retry_after
from verimath.models.tools import cut_at_stop, parse_fenced_transcript, trim_fenced_completion
from verimath.models.transcripts import split_turn


@pytest.mark.parametrize(
    "options",
    [{"temperature": -0.1}, {"top_p": 0.0}, {"max_tokens": 0}, {"n": 0}, {"stop": "```output"}],
)
def test_generate_config_rejects_bad_values(options: dict) -> None:
    with pytest.raises(ConfigError):
        GenerateConfig(**options)


def test_generate_config_accepts_a_stop_list() -> None:
    assert GenerateConfig(stop=["a", "b"]).stop == ("a", "b")  # type: ignore[arg-type]


def test_messages_are_checked() -> None:
    with pytest.raises(ConfigError, match="role 'bot'"):
        Message("bot", "x")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="tool_call_id"):
        Message("tool", "42")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no code at all", [("no code at all", None)]),
        ("```python\nprint(1)\n```\n```output\n1\n```\nSo 1.", [("", "print(1)"), ("So 1.", None)]),
        (
            "Think.\n```python\na = 1\n```\n```output\n```\nMore.\n```python\nprint(a)\n```\n"
            "```output\n1\n```\n\nDone.",
            [("Think.\n", "a = 1"), ("More.\n", "print(a)"), ("Done.", None)],
        ),
        ("```python\n```\n```output\n\n```\nEmpty cell.", [("", ""), ("Empty cell.", None)]),
        ("```python\nx = 1\n```", [("", "x = 1"), ("", None)]),
        ("```python\nunterminated = 1\n", [("```python\nunterminated = 1\n", None)]),
        (
            "```python\ns = '```'\n```\nno output block",
            [("", "s = '```'"), ("no output block", None)],
        ),
    ],
)
def test_fenced_transcripts_split_into_turns(text: str, expected: list) -> None:
    assert [(s.prose, s.code) for s in parse_fenced_transcript(text)] == expected


@pytest.mark.parametrize(
    ("text", "prose", "code"),
    [
        ("Let me see.\n```python\nprint(2)\n```", "Let me see.\n", "print(2)"),
        ("```python\na\n```\nthen\n```python\nb\n```\n", "```python\na\n```\nthen\n", "b"),
        ("The answer is $\\boxed{2}$.", "The answer is $\\boxed{2}$.", None),
        ("```python\na\n```\nand text after", "```python\na\n```\nand text after", None),
    ],
)
def test_split_turn_takes_the_block_a_turn_ends_with(
    text: str, prose: str, code: str | None
) -> None:
    segment = split_turn(text)
    assert (segment.prose, segment.code) == (prose, code)
    assert segment.fenced() == text.rstrip("\n")


def test_segments_render_in_both_styles() -> None:
    segment = Segment("Compute.\n", "print(1)")
    fenced = segment.message("fenced", "c1")
    function = segment.message("function", "c1")
    assert fenced == Message("assistant", "Compute.\n```python\nprint(1)\n```")
    assert function.content == "Compute." and function.tool_calls[0].id == "c1"
    assert tool_call_code(function.tool_calls[0]) == "print(1)"
    assert Segment("Final.").message("function", "c2") == Message("assistant", "Final.")


@pytest.mark.parametrize("arguments", ["not json", "[1]", '{"cmd": "x"}', '{"code": 1}'])
def test_unusable_tool_call_arguments(arguments: str) -> None:
    with pytest.raises(ModelResponseError, match="tool call 'c'"):
        tool_call_code(ToolCall("c", "python", arguments))


def test_trimming_and_cutting_fenced_text() -> None:
    assert trim_fenced_completion("```python\nx\n```\n \n") == "```python\nx\n```"
    assert trim_fenced_completion("text\n") == "text\n"
    assert cut_at_stop("a```outputb```output", ("```output", "zz")) == "a"
    assert cut_at_stop("abc", ()) == "abc"


def test_backoff_is_jittered_exponential_and_capped() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_s=1.0, max_delay_s=10.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)]:
        delays = [policy.delay_s(attempt) for _ in range(200)]
        assert min(delays) >= 0 and max(delays) <= ceiling
        assert max(delays) > ceiling / 2  # full jitter spreads over the whole range
    assert policy.delay_s(1, retry_after_s=3.5) == 3.5
    assert policy.delay_s(1, retry_after_s=99) == 10.0
    with pytest.raises(ConfigError):
        RetryPolicy(max_attempts=0)


def test_retry_after_headers() -> None:
    now = time.time()
    in_a_minute = email.utils.formatdate(now + 60, usegmt=True)
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "2", "retry-after-ms": "150"}) == 0.15
    assert parse_retry_after({"Retry-After": in_a_minute}, now=now) == pytest.approx(60, abs=1)
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "-3"}) is None
    assert parse_retry_after({}) is None


def test_prices() -> None:
    assert openai_price("gpt-4o") == Price(2.50, 10.00)
    assert openai_price("gpt-4o-2024-08-06") == Price(2.50, 10.00)
    assert openai_price("gpt-4o-mini-2024-07-18") == Price(0.15, 0.60)
    assert openai_price("gpt-4-0613") == Price(30.00, 60.00)
    assert openai_price("Qwen/Qwen2.5-Math-7B-Instruct") is None
    assert cost_usd(Price(2.5, 10.0), 1000, 500) == pytest.approx(0.0075)
    assert cost_usd(None, 1000, 500) is None


@pytest.mark.parametrize(
    ("rest", "model", "base_url"),
    [
        ("gpt-4o", "gpt-4o", None),
        (
            "Qwen/Qwen2.5-Math-7B-Instruct@http://127.0.0.1:8000/v1",
            "Qwen/Qwen2.5-Math-7B-Instruct",
            "http://127.0.0.1:8000/v1",
        ),
        ("org@name", "org@name", None),
        ("m@https://user@host/v1", "m", "https://user@host/v1"),
    ],
)
def test_openai_spec(rest: str, model: str, base_url: str | None) -> None:
    assert parse_openai_spec(rest) == (model, base_url)


def test_openai_models_need_a_key_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelAuthError, match="set the environment variable OPENAI_API_KEY"):
        resolve_model("openai:gpt-4o")
    with pytest.raises(ModelAuthError, match="set the environment variable TEAM_KEY"):
        resolve_model("openai:gpt-4o", api_key_env="TEAM_KEY")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    model = resolve_model("openai:gpt-4o-2024-08-06")
    assert isinstance(model, OpenAIModel)
    assert model.name == "openai:gpt-4o-2024-08-06" and model.price == Price(2.50, 10.00)
    assert model.tool_styles == frozenset({"function", "fenced"})


def test_reasoning_models_get_max_completion_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    model = resolve_model("openai:o4-mini")
    assert isinstance(model, OpenAIModel)
    body = model.request_body([Message("user", "q")], GenerateConfig(max_tokens=9), False, 1, None)
    assert body["max_completion_tokens"] == 9
    assert not {"max_tokens", "temperature", "top_p"} & set(body)


def test_registry_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown model backend 'gemini'.*known backends: "):
        resolve_model("gemini:pro")
    with pytest.raises(ConfigError, match=r"unknown model option\(s\) temprature"):
        resolve_model("openai:m@http://127.0.0.1:9/v1", temprature=0.5)
    with pytest.raises(ConfigError, match="two base URLs"):
        resolve_model("openai:m@http://127.0.0.1:9/v1", base_url="http://127.0.0.1:8/v1")
    with pytest.raises(ConfigError, match="already registered as 'openai'"):
        register_backend("openai", lambda rest, **options: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match="lower-case"):
        register_backend("Bad Prefix", lambda rest: None)  # type: ignore[arg-type,return-value]


class Echo(ChatModel):
    """A minimal backend: the one abstract method is all it takes."""

    tool_styles = frozenset({"fenced"})

    def __init__(self, rest: str, *, suffix: str = "!") -> None:
        self.name, self.suffix = f"echo:{rest}", suffix

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig, *, tools: bool = False
    ) -> list[Completion]:
        self.check_tool_style(tools)
        message = Message("assistant", messages[-1].content + self.suffix)
        return [Completion(message, "stop", Usage(), 0.0) for _ in range(config.n)]


async def test_a_registered_backend_is_resolved_by_prefix() -> None:
    register_backend("echo-test", Echo)
    assert "echo-test" in backends()
    async with resolve_model("echo-test:x", suffix="?") as model:
        completions = await model.generate([Message("user", "hi")], GenerateConfig(n=2))
        assert [c.message.content for c in completions] == ["hi?", "hi?"]
        with pytest.raises(ConfigError, match="no native function calling"):
            await model.generate([Message("user", "hi")], GenerateConfig(), tools=True)


def test_default_model_is_named_concretely() -> None:
    assert DEFAULT_LOCAL_MODEL.repo_id == "bartowski/Qwen2.5-Math-1.5B-Instruct-GGUF"
    assert DEFAULT_LOCAL_MODEL.filename == "Qwen2.5-Math-1.5B-Instruct-Q4_K_M.gguf"
    assert DEFAULT_LOCAL_MODEL.size_bytes and 0.9e9 < DEFAULT_LOCAL_MODEL.size_bytes < 1.1e9
    assert "986 MB" in DEFAULT_LOCAL_MODEL.description
    assert DEFAULT_LOCAL_MODEL.url("https://hub.example") == (
        "https://hub.example/bartowski/Qwen2.5-Math-1.5B-Instruct-GGUF/resolve/main/"
        "Qwen2.5-Math-1.5B-Instruct-Q4_K_M.gguf"
    )


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("a/b/c.gguf", ("a/b", "c.gguf", "main")),
        ("a/b/sub/c.gguf@v2", ("a/b", "sub/c.gguf", "v2")),
        ("a/b", None),
        ("c.gguf", None),
    ],
)
def test_hub_specs(rest: str, expected: tuple | None) -> None:
    found = hub_file_from_spec(rest)
    assert (found and (found.repo_id, found.filename, found.revision)) == expected


def test_unknown_local_spec_says_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=re.escape("local:OWNER/REPO/FILE.gguf")):
        resolve_model(f"local:{tmp_path}/missing.gguf")
