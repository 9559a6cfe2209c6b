"""A model wrapper that answers repeated requests from the run store and bounds concurrency.

Every completion is stored under the hash of its exact request (model name, messages, sampling
settings, tools). A sample interrupted by a crash therefore replays its model calls from the
store when the run resumes: with the same code outputs, it reaches the same result without
paying for the calls again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any, TypedDict, cast

from verimath.models import (
    ChatModel,
    Completion,
    GenerateConfig,
    Message,
    ToolCall,
    Usage,
    served_model,
)
from verimath.models.messages import WireMessage, to_wire
from verimath.store import RunStore, request_key

__all__ = [
    "CacheRequest",
    "CachedCompletion",
    "StoreCachedModel",
    "cache_request",
    "checked_entries",
    "completion_from_entry",
    "completion_to_entry",
]


class CacheRequest(TypedDict):
    """What a response is cached under: the sha256 of its canonical JSON is the key."""

    model: str
    messages: list[WireMessage]
    config: dict[str, Any]
    """Every field of the GenerateConfig (``dataclasses.asdict``), so that a new field
    changes the key rather than being left out of it."""
    tools: bool


class CachedToolCall(TypedDict):
    id: str
    name: str
    arguments: str


class CachedUsage(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None


class CachedCompletion(TypedDict):
    """One completion as the run's response cache holds it (JSON)."""

    content: str
    tool_calls: list[CachedToolCall]
    finish_reason: str
    usage: CachedUsage
    latency_s: float


def cache_request(
    model_name: str, messages: Sequence[Message], config: GenerateConfig, tools: bool
) -> CacheRequest:
    """The request a response is cached under: the model by what shapes its answers, not by
    where it is served (a run resumed against a moved server replays its calls)."""
    return {
        "model": served_model(model_name)[0],
        "messages": [to_wire(m) for m in messages],
        "config": dataclasses.asdict(config),
        "tools": tools,
    }


class StoreCachedModel(ChatModel):
    """``model`` with a response cache in ``store`` and at most ``concurrency`` calls at once."""

    def __init__(self, model: ChatModel, store: RunStore | None, concurrency: int) -> None:
        self.inner = model
        self.name = model.name
        self.tool_styles = model.tool_styles
        self._store = store
        self._slots = asyncio.Semaphore(concurrency)
        self.hits = 0
        self.calls = 0

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig, *, tools: bool = False
    ) -> list[Completion]:
        request = cache_request(self.name, messages, config, tools)
        key = request_key(request)
        cached = None if self._store is None else self._store.cached_response(key, checked_entries)
        if cached is not None:
            self.hits += 1
            return [completion_from_entry(entry) for entry in cached]
        async with self._slots:
            completions = await self.inner.generate(messages, config, tools=tools)
        self.calls += 1
        if self._store is not None:
            self._store.cache_response(key, request, [completion_to_entry(c) for c in completions])
        return completions

    async def aclose(self) -> None:
        await self.inner.aclose()


def completion_to_entry(completion: Completion) -> CachedCompletion:
    message, usage = completion.message, completion.usage
    return {
        "content": message.content,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls
        ],
        "finish_reason": completion.finish_reason,
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cost_usd": usage.cost_usd,
        },
        "latency_s": completion.latency_s,
    }


def completion_from_entry(entry: CachedCompletion) -> Completion:
    calls = tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in entry["tool_calls"])
    usage = entry["usage"]
    return Completion(
        Message("assistant", entry["content"], tool_calls=calls),
        entry["finish_reason"],
        Usage(usage["prompt_tokens"], usage["completion_tokens"], usage["cost_usd"]),
        entry["latency_s"],
    )


def checked_entries(value: object) -> list[CachedCompletion]:
    """A cached response read back from a run file, checked to be what
    :func:`completion_to_entry` writes (TypeError saying what is not)."""
    if not isinstance(value, list):
        raise TypeError("expected a list of completions")
    for entry in value:
        _check_entry(entry)
    return cast(list[CachedCompletion], value)


def _check_entry(entry: object) -> None:
    if not isinstance(entry, dict):
        raise TypeError("a completion that is not an object")
    usage, calls = entry.get("usage"), entry.get("tool_calls")
    if not isinstance(entry.get("content"), str) or not isinstance(calls, list):
        raise TypeError("a completion without text content and a list of tool calls")
    if not isinstance(entry.get("finish_reason"), str | None):
        raise TypeError("a finish reason that is not text")
    if not _number(entry.get("latency_s")) or not isinstance(usage, dict):
        raise TypeError("a completion without latency or usage")
    tokens = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
    cost = usage.get("cost_usd", "missing")
    if not all(_integer(n) for n in tokens) or not (cost is None or _number(cost)):
        raise TypeError("a usage whose token counts or cost are not numbers")
    for call in calls:
        parts = [call.get(k) for k in ("id", "name", "arguments")] if isinstance(call, dict) else []
        if len(parts) != 3 or not all(isinstance(part, str) for part in parts):
            raise TypeError("a tool call whose id, name or arguments are not text")


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
