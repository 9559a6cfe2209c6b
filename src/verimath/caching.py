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
from typing import Any, TypedDict

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
        if self._store is not None and (cached := self._store.cached_response(key)) is not None:
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
    calls = tuple(ToolCall(**c) for c in entry["tool_calls"])
    return Completion(
        Message("assistant", entry["content"], tool_calls=calls),
        entry["finish_reason"],
        Usage(**entry["usage"]),
        entry["latency_s"],
    )
