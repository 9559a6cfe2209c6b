"""Any OpenAI-compatible chat completions server: OpenAI, vLLM, SGLang, Ollama, llama.cpp.

Spec ``openai:MODEL[@BASE_URL]``, e.g. ``openai:gpt-4o`` or
``openai:Qwen/Qwen2.5-Math-7B-Instruct@http://127.0.0.1:8000/v1``. The SDK's own retries are
off (``max_retries=0``); this module retries 408/409/429/5xx, timeouts, dropped connections
and malformed JSON with exponential backoff and full jitter, honouring Retry-After.

Every reply is hostile until checked: each attempt has a total deadline (``timeout_s``:
connecting, sending and every read together, not a per-read timeout), the body is read within
``max_response_bytes`` raw and decompressed (:mod:`verimath.models.http_limits`), parsed with
bounded JSON depth, and every field used is checked for its type. A reply over a size bound,
nested too deep or of the wrong shape is a ``ModelResponseError`` naming the server; a deadline
passed is retried like a timeout.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import socket
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import openai

from verimath.bounded import BoundsExceeded, json_depth, loads_json
from verimath.errors import (
    ConfigError,
    ModelAuthError,
    ModelConnectionError,
    ModelContextLengthError,
    ModelNotFoundError,
    ModelResponseError,
)
from verimath.models.base import ChatModel
from verimath.models.http_defaults import (
    DEFAULT_MAX_RESPONSE_MB,
    DEFAULT_TIMEOUT_S,
    MAX_REPLY_DEPTH,
)
from verimath.models.http_limits import ReplyRefused, bounded_http_client
from verimath.models.messages import (
    Completion,
    GenerateConfig,
    Message,
    ToolCall,
    Usage,
    to_wire,
)
from verimath.models.pricing import Price, cost_usd, openai_price
from verimath.models.retry import RETRYABLE_STATUS, RetryPolicy, parse_retry_after
from verimath.models.tools import (
    FENCED,
    FUNCTION,
    PYTHON_TOOL,
    cut_at_stop,
    trim_fenced_completion,
)

__all__ = [
    "DEFAULT_API_KEY_ENV",
    "OPENAI_BASE_URL",
    "AttemptFailure",
    "OpenAIModel",
    "parse_openai_spec",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_MAX_CONCURRENCY = 16
CONNECT_CHECK_TIMEOUT_S = 10.0
NO_KEY_PLACEHOLDER = "no-key"
"""Sent to servers other than api.openai.com when no key is set (the SDK insists on one)."""

_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
"""Models that take ``max_completion_tokens`` and refuse ``temperature``/``top_p``."""
_ERROR_TEXT_LIMIT = 500
_SPEC = re.compile(r"(?P<model>.*?)@(?P<url>https?://.*)", re.S)
_CONTEXT_LENGTH = re.compile(
    r"context[ _-]?(length|window)|maximum context|too many tokens|prompt is too long"
    r"|exceeds? the (model'?s? )?(context|maximum)",
    re.I,
)
"""How vLLM, SGLang, llama.cpp, Ollama and OpenAI word a 400 for a conversation longer than
the model's context."""


class _MalformedResponse(Exception):
    """The server's answer is not JSON (retried: usually a truncated or garbled body)."""


@dataclass(frozen=True)
class AttemptFailure:
    """Why an attempt failed, when that is worth another attempt (here or at another endpoint)."""

    description: str
    retry_after_s: float | None = None
    malformed: bool = False


def parse_openai_spec(rest: str) -> tuple[str, str | None]:
    """Split ``MODEL[@BASE_URL]``; the base URL starts at the first ``@http://``/``@https://``."""
    match = _SPEC.fullmatch(rest)
    return (match["model"], match["url"]) if match else (rest, None)


class OpenAIModel(ChatModel):
    """A chat model served over the OpenAI chat completions API."""

    tool_styles = frozenset({FUNCTION, FENCED})

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = DEFAULT_API_KEY_ENV,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_response_mb: float = DEFAULT_MAX_RESPONSE_MB,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        retry: RetryPolicy | None = None,
        price: Price | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        """``base_url`` defaults to $OPENAI_BASE_URL, then api.openai.com; the key is read
        from the environment variable ``api_key_env``. ``price`` overrides the price table;
        ``extra_body`` adds server-specific fields (e.g. vLLM's ``top_k``) to every request.
        ``timeout_s`` is the total deadline of one attempt; ``max_response_mb`` caps one
        reply, raw and decompressed."""
        if not model:
            raise ConfigError("the openai backend needs a model name: openai:MODEL[@BASE_URL]")
        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be >= 1, not {max_concurrency!r}")
        if not timeout_s > 0 or not max_response_mb > 0:
            raise ConfigError("the request timeout and the response cap must be > 0")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL).rstrip(
            "/"
        )
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_response_bytes = math.ceil(max_response_mb * (1 << 20))
        self.retry = retry or RetryPolicy()
        self.extra_body = dict(extra_body or {})
        self.name = f"openai:{model}" if self._is_openai() else f"openai:{model}@{self.base_url}"
        self.price = price or (openai_price(model) if self._is_openai() else None)
        self._api_key = self._read_key()
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._client: openai.AsyncOpenAI | None = None

    def check_reachable(self) -> None:
        """ModelConnectionError when nothing accepts a connection at the base URL (one TCP
        connection, no request, no retry; skipped when a proxy is configured for it)."""
        problem = unreachable(self.base_url)
        if problem is not None:
            raise ModelConnectionError(
                f"cannot reach the model server {self.base_url} ({problem}); start it or "
                "correct the URL in --model, then rerun"
            )

    def _is_openai(self) -> bool:
        return urlsplit(self.base_url).hostname == "api.openai.com"

    def _read_key(self) -> str:
        key = os.environ.get(self.api_key_env, "").strip()
        if key:
            return key
        if self._is_openai():
            raise ModelAuthError(
                f"no API key for {self.base_url}: set the environment variable "
                f"{self.api_key_env} (export {self.api_key_env}=...), or serve the model "
                "elsewhere with openai:NAME@BASE_URL"
            )
        return NO_KEY_PLACEHOLDER

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig, *, tools: bool = False
    ) -> list[Completion]:
        """``config.n`` choices; if the server returns fewer (llama.cpp ignores ``n``), the
        rest are requested again with ``seed + number already received``."""
        self.check_tool_style(tools)
        started = time.monotonic()
        results: list[tuple[Message, str, dict[str, Any], dict[str, Any]]] = []
        prompt_tokens = completion_tokens = 0
        while len(results) < config.n:
            seed = None if config.seed is None else config.seed + len(results)
            body = self.request_body(messages, config, tools, config.n - len(results), seed)
            data = await self._post(body)
            for message, finish in self._choices(data, config)[: config.n - len(results)]:
                results.append((message, finish, body, data))
            prompt_tokens += _token_count(data, "prompt_tokens")
            completion_tokens += _token_count(data, "completion_tokens")
        latency = time.monotonic() - started
        cost = cost_usd(self.price, prompt_tokens, completion_tokens)
        total = Usage(prompt_tokens, completion_tokens, cost)
        return [
            Completion(message, finish, total if i == 0 else Usage(), latency, body, data)
            for i, (message, finish, body, data) in enumerate(results)
        ]

    def request_body(
        self,
        messages: Sequence[Message],
        config: GenerateConfig,
        tools: bool,
        n: int,
        seed: int | None,
    ) -> dict[str, Any]:
        """The exact JSON body sent for one request."""
        # a plain dict: ``extra_body`` may add any field the server takes
        body: dict[str, Any] = {"model": self.model, "messages": [to_wire(m) for m in messages]}
        if _REASONING_MODEL.match(self.model):
            body["max_completion_tokens"] = config.max_tokens
        else:
            body |= {"temperature": config.temperature, "top_p": config.top_p}
            body["max_tokens"] = config.max_tokens
        body["n"] = n
        if config.stop:
            body["stop"] = list(config.stop)
        if seed is not None:
            body["seed"] = seed
        if tools:
            body["tools"] = [PYTHON_TOOL]
        return body | self.extra_body

    def _client_now(self) -> openai.AsyncOpenAI:
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.base_url,
                timeout=self.timeout_s,
                max_retries=0,
                http_client=bounded_http_client(
                    self.base_url, self.max_response_bytes, self.timeout_s
                ),
            )
        return self._client

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send ``body``, retrying transient failures; the decoded JSON response (overridden
        by the multi-endpoint model)."""
        failure = AttemptFailure("no attempt made")
        for attempt in range(1, self.retry.max_attempts + 1):
            outcome = await self.attempt(body)
            if not isinstance(outcome, AttemptFailure):
                return outcome
            failure = outcome
            if attempt < self.retry.max_attempts:
                await asyncio.sleep(self.retry.delay_s(attempt, failure.retry_after_s))
        count = self.retry.max_attempts
        attempts = f"{count} attempt" if count == 1 else f"{count} attempts"
        if failure.malformed:
            raise ModelResponseError(
                f"{self.base_url} kept answering unusable data ({attempts}): {failure.description}"
            )
        raise ModelConnectionError(
            f"could not reach {self.base_url} after {attempts}: {failure.description}"
        )

    async def attempt(self, body: dict[str, Any]) -> dict[str, Any] | AttemptFailure:
        """One request, no retry: the response, a retryable failure, or an error raised for
        good (the seam :mod:`verimath.models.endpoints` routes through)."""
        client = self._client_now()
        rest = {key: value for key, value in body.items() if key not in ("model", "messages")}
        try:
            async with self._semaphore, asyncio.timeout(self.timeout_s):
                raw = await client.chat.completions.with_raw_response.create(
                    model=body["model"], messages=body["messages"], extra_body=rest
                )
            return self._decode(raw.content)
        except (TimeoutError, openai.APITimeoutError):  # the deadline, or one read past it
            return AttemptFailure(
                f"no complete answer within the {self.timeout_s:g} s deadline (--request-timeout)"
            )
        except ReplyRefused as exc:
            raise self._refused(exc) from None
        except openai.APIStatusError as exc:
            if not _retryable(exc.status_code):
                raise self._status_error(exc) from exc
            return AttemptFailure(_describe_status(exc), parse_retry_after(exc.response.headers))
        except openai.APIConnectionError as exc:
            if isinstance(exc.__cause__, ReplyRefused):  # SDKs that wrap transport errors
                raise self._refused(exc.__cause__) from None
            return AttemptFailure(_describe_connection(exc))
        except _MalformedResponse as exc:
            return AttemptFailure(str(exc), malformed=True)

    def _refused(self, exc: ReplyRefused) -> ModelResponseError:
        return ModelResponseError(f"{self.base_url} sent {exc}")

    def _decode(self, content: bytes) -> dict[str, Any]:
        try:
            data = loads_json(content, max_depth=MAX_REPLY_DEPTH)
        except BoundsExceeded as exc:
            raise ModelResponseError(f"{self.base_url} answered {_bound(exc)}") from None
        except json.JSONDecodeError as exc:
            text = content.decode("utf-8", "replace")
            raise _MalformedResponse(f"malformed JSON ({exc}): {_clip(text)!r}") from exc
        except ValueError as exc:  # a number longer than Python converts (4,300 digits)
            raise ModelResponseError(
                f"{self.base_url} answered JSON that cannot be read: {_clip(str(exc))}"
            ) from None
        if not isinstance(data, dict):
            raise _MalformedResponse(f"a JSON {type(data).__name__} instead of an object")
        return data

    def _status_error(self, exc: openai.APIStatusError) -> Exception:
        what = _describe_status(exc)
        if exc.status_code in (401, 403):
            return ModelAuthError(
                f"{self.base_url} refused the API key ({what}); set {self.api_key_env} "
                "to a valid key"
            )
        if exc.status_code == 404:
            return ModelNotFoundError(
                f"{self.base_url} has no model {self.model!r} ({what}); check the model "
                "name and the base URL (it usually ends in /v1)"
            )
        if exc.status_code in (400, 413) and _CONTEXT_LENGTH.search(what):
            return ModelContextLengthError(
                f"{self.base_url} refused the conversation as longer than the model's "
                f"context ({what})"
            )
        return ModelResponseError(f"{self.base_url} rejected the request ({what})")

    def _choices(self, data: dict[str, Any], config: GenerateConfig) -> list[tuple[Message, str]]:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ModelResponseError(
                f"{self.base_url} answered without choices: {_clip(json.dumps(data))}"
            )
        if not all(isinstance(choice, dict) for choice in choices):
            raise ModelResponseError(
                f"{self.base_url} answered choices that are not objects: {_clip(repr(choices))}"
            )
        ordered = sorted(choices, key=_choice_index)
        return [_choice(choice, config, self.base_url) for choice in ordered]

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _choice(choice: dict[str, Any], config: GenerateConfig, base_url: str) -> tuple[Message, str]:
    """One response choice as an assistant message and its finish reason."""
    try:
        message = choice["message"]
        calls = tuple(_tool_call(i, call) for i, call in enumerate(message.get("tool_calls") or ()))
        content = message.get("content") or ""
        finish = choice.get("finish_reason") or ("tool_calls" if calls else "stop")
        if not isinstance(content, str) or not isinstance(finish, str):
            raise TypeError("content and finish_reason must be strings")
    except (KeyError, TypeError, AttributeError) as exc:
        raise ModelResponseError(
            f"{base_url} answered a choice of unexpected shape ({exc!r}): {_clip(repr(choice))}"
        ) from exc
    if config.stop and not calls:
        content = trim_fenced_completion(cut_at_stop(content, config.stop))
    return Message("assistant", content, tool_calls=calls), finish


def _tool_call(index: int, call: Any) -> ToolCall:
    """One tool call of a reply; TypeError/KeyError when a field is missing or not text."""
    function = call["function"]
    call_id = call.get("id") or f"call_{index}"
    name = function["name"]
    arguments = function.get("arguments") or "{}"
    if not all(isinstance(value, str) for value in (call_id, name, arguments)):
        raise TypeError("a tool call's id, name and arguments must be strings")
    return ToolCall(call_id, name, arguments)


def _choice_index(choice: dict[str, Any]) -> int:
    index = choice.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else 0


def _token_count(data: dict[str, Any], field: str) -> int:
    """A token count of the reply's ``usage``; 0 when it is missing or not a count."""
    usage = data.get("usage")
    value = usage.get(field) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _bound(exc: BoundsExceeded) -> str:
    """What was wrong with a reply's body, after "answered"."""
    return f"a body that is {exc}" if exc.kind == "encoding" else str(exc)


def unreachable(base_url: str) -> str | None:
    """Why nothing accepts a TCP connection at ``base_url``'s host and port, or None."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host):
        return None  # the proxy, not this machine, connects to the host
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=CONNECT_CHECK_TIMEOUT_S):
            return None
    except socket.gaierror:
        return f"unknown host {host!r}"
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__


def _retryable(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def _describe_status(exc: openai.APIStatusError) -> str:
    reason = getattr(exc.response, "reason_phrase", "") or ""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        detail = body["message"]
    elif isinstance(body, str):
        detail = body
    elif isinstance(body, dict | list):
        too_deep = json_depth(body, limit=MAX_REPLY_DEPTH) > MAX_REPLY_DEPTH
        detail = (
            f"an error nested deeper than {MAX_REPLY_DEPTH} levels"
            if too_deep
            else json.dumps(body)
        )
    else:
        detail = str(exc.message)
    return f"HTTP {exc.status_code} {reason}".rstrip() + f": {_clip(detail)}"


def _describe_connection(exc: openai.APIConnectionError) -> str:
    cause = exc.__cause__
    if cause is None:
        return str(exc)
    return f"{exc} ({type(cause).__name__}: {cause or 'no detail'})"


def _clip(text: str) -> str:
    if len(text) <= _ERROR_TEXT_LIMIT:
        return text
    return text[:_ERROR_TEXT_LIMIT] + f"... [{len(text) - _ERROR_TEXT_LIMIT} more characters]"
