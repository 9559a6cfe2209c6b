"""The run's response cache, kept in the driver's store, reached from Ray workers.

Only the driver writes the SQLite run store. A small relay actor carries the traffic:

- a worker about to call the model asks the relay for the request's key; the relay passes the
  question to the driver, which looks the key up in its store and answers;
- a worker that got a completion hands it to the relay, which holds it until the driver
  takes it and writes it to the store (and answers lookups of it meanwhile).

So, as on one machine, every model request and response lands in the run store, a sample
rerun after a worker died or after a crash replays the calls it had already made, and keys
are the same (a run started without Ray resumes with it, and the other way round). The cache
only saves work: a relay that is gone or slow means cache misses, never a wrong or lost sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from verimath.caching import (
    CachedCompletion,
    CacheRequest,
    cache_request,
    checked_entries,
    completion_from_entry,
    completion_to_entry,
)
from verimath.models import ChatModel, Completion, GenerateConfig, Message
from verimath.store import RunStore, request_key

__all__ = ["CachePump", "CacheRelay", "RelayCachedModel", "cache_request"]

Entries = list[CachedCompletion]
"""The completions of one cached request."""

LOOKUP_TIMEOUT_S = 30.0
"""A lookup the driver has not answered by then counts as a miss."""
TAKE_WAIT_S = 0.5
"""Longest a driver's ``take`` waits for traffic before returning empty-handed."""
_log = logging.getLogger(__name__)


class CacheRelay:
    """The relay actor (async; create it with ``ray.remote``, on the driver's node)."""

    def __init__(self) -> None:
        self._waiting: dict[str, list[asyncio.Future[Entries | None]]] = {}
        self._asked: list[str] = []
        self._new: list[tuple[str, CacheRequest, Entries]] = []
        self._held: dict[str, Entries] = {}
        self._traffic: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._traffic is None:
            self._traffic = asyncio.Event()
        return self._traffic

    async def lookup(self, key: str) -> Entries | None:
        """The cached response of ``key``, or None."""
        if key in self._held:
            return self._held[key]
        future: asyncio.Future[Entries | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        self._asked.append(key)
        self._event().set()
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT_S):
                return await future
        except TimeoutError:
            return None

    async def put(self, key: str, request: CacheRequest, response: Entries) -> None:
        """A new response, for the driver to store."""
        self._held[key] = response
        self._new.append((key, request, response))
        self._event().set()

    async def take(
        self, wait_s: float = TAKE_WAIT_S
    ) -> tuple[list[str], list[tuple[str, CacheRequest, Entries]]]:
        """(keys asked, new entries) since the last take; waits up to ``wait_s`` for some."""
        event = self._event()
        if not (self._asked or self._new):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await event.wait()
        event.clear()
        asked, self._asked = self._asked, []
        new, self._new = self._new, []
        return asked, new

    async def answer(self, answers: dict[str, Entries | None]) -> None:
        """The driver's answers to keys asked; entries it has stored are no longer held."""
        for key, response in answers.items():
            for future in self._waiting.pop(key, []):
                if not future.done():
                    future.set_result(response)

    async def release(self, keys: list[str]) -> None:
        """Forget entries the driver has stored (lookups of them now go to the driver)."""
        for key in keys:
            self._held.pop(key, None)


class RelayCachedModel(ChatModel):
    """``model`` answering repeated requests from the run store, through the relay."""

    def __init__(self, model: ChatModel, relay: Any) -> None:
        self.inner = model
        self.name = model.name
        self.tool_styles = model.tool_styles
        self._relay = relay

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig, *, tools: bool = False
    ) -> list[Completion]:
        request = cache_request(self.name, messages, config, tools)
        key = request_key(request)
        cached = await self._lookup(key)
        if cached is not None:
            return [completion_from_entry(entry) for entry in cached]
        completions = await self.inner.generate(messages, config, tools=tools)
        self._relay.put.remote(key, request, [completion_to_entry(c) for c in completions])
        return completions

    async def _lookup(self, key: str) -> Entries | None:
        try:
            entries: Entries | None = await self._relay.lookup.remote(key)
        except Exception as exc:  # a lost relay costs cache hits, never the sample
            _log.warning("response cache unavailable (%s); calling the model", exc)
            return None
        return entries

    async def aclose(self) -> None:
        await self.inner.aclose()


class CachePump:
    """The driver's side: stores what workers produced, answers what they ask."""

    def __init__(self, relay: Any, store: RunStore) -> None:
        self.relay = relay
        self.store = store
        self.hits = 0
        self.stored = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Store what is still held, then stop."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        with contextlib.suppress(Exception):
            await self._exchange(0.0)

    async def _run(self) -> None:
        try:
            while True:
                await self._exchange(TAKE_WAIT_S)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the relay is gone: workers fall back to cache misses
            _log.warning("response cache relay lost (%s); the run goes on without it", exc)

    async def _exchange(self, wait_s: float) -> None:
        asked, new = await self.relay.take.remote(wait_s)
        for key, request, response in new:
            self.store.cache_response(key, request, response)
        self.stored += len(new)
        answers = {
            key: self.store.cached_response(key, checked_entries) for key in dict.fromkeys(asked)
        }
        self.hits += sum(response is not None for response in answers.values())
        if answers:
            await self.relay.answer.remote(answers)
        if new:
            await self.relay.release.remote([key for key, _, _ in new])
