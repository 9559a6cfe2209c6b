"""One model served by several OpenAI-compatible endpoints (e.g. one vLLM server per GPU node).

Spec ``openai:MODEL@URL1,URL2,...``: the base URLs are separated by commas (a comma never
occurs in a server's base URL). Every endpoint serves the same model under the same name.

Routing: each request goes to the available endpoint with the fewest requests in flight; ties
go round in turn (so an idle pool is used evenly, and a slow endpoint is not favoured).

Failures: a transient failure at an endpoint (unreachable, timeout, 408/409/425/429/5xx, a body
that is not JSON) takes that endpoint out for a backoff that doubles with each consecutive
failure (``retry.base_delay_s``, ``2 x``, ... up to ``retry.max_delay_s``; a Retry-After header
wins), and the request is tried again at once on another endpoint. When the backoff is over,
one request probes the endpoint while the others keep away; a success brings it back. When
every endpoint is out, requests wait for the first to come back. A request gives up after
``retry.max_attempts`` attempts in all (at least one per endpoint) with ModelConnectionError.
Errors that are the request's own (401/403, 404, other 4xx) are raised at once, as with a single
endpoint, and do not count against the endpoint.

Counters per endpoint (requests, failures, in flight, out) are read with :func:`endpoint_stats`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from verimath.errors import ConfigError, ModelConnectionError, ModelResponseError
from verimath.models.base import ChatModel
from verimath.models.openai_compat import AttemptFailure, OpenAIModel, unreachable

__all__ = ["EndpointPoolModel", "EndpointStats", "endpoint_stats", "split_base_urls"]

URL_SEPARATOR = ","
WAIT_POLL_S = 0.05
"""How often a request waiting for an endpoint to come back looks again."""


@dataclass(frozen=True)
class EndpointStats:
    """What one endpoint has done so far."""

    base_url: str
    requests: int
    """Requests sent to it (every attempt counts)."""
    failures: int
    """Transient failures (each one took the endpoint out for a while)."""
    in_flight: int
    """Requests sent and not yet answered."""
    out: bool
    """True while the endpoint is backed off after a failure."""

    def to_dict(self) -> dict[str, object]:
        """The fields by name (JSON-ready)."""
        return asdict(self)


def split_base_urls(text: str) -> list[str]:
    """The base URLs of ``URL1,URL2,...``; ConfigError for an empty or non-HTTP entry."""
    urls = [url.strip().rstrip("/") for url in text.split(URL_SEPARATOR)]
    bad = [url for url in urls if not url.startswith(("http://", "https://"))]
    if bad:
        raise ConfigError(
            f"{text!r}: every endpoint must be an http:// or https:// base URL, separated by "
            f"{URL_SEPARATOR!r} (not {', '.join(repr(b) for b in bad)})"
        )
    if len(set(urls)) != len(urls):
        raise ConfigError(f"{text!r} names the same endpoint twice")
    return urls


class _Endpoint:
    """One server of the pool, with its counters and backoff state."""

    def __init__(self, model: OpenAIModel) -> None:
        self.model = model
        self.requests = 0
        self.failures = 0
        self.in_flight = 0
        self.failures_in_row = 0
        self.out_until = 0.0
        self.probing = False

    def available(self, now: float) -> bool:
        if self.failures_in_row == 0:
            return True
        return self.out_until <= now and not self.probing

    def stats(self, now: float) -> EndpointStats:
        out = self.failures_in_row > 0 and (self.out_until > now or self.probing)
        return EndpointStats(self.model.base_url, self.requests, self.failures, self.in_flight, out)


class EndpointPoolModel(OpenAIModel):
    """An OpenAI-compatible model spread over several base URLs (see the module doc)."""

    def __init__(self, model: str, base_urls: Sequence[str], **options: Any) -> None:
        """``options`` are those of :class:`OpenAIModel` (``base_url`` excluded); every
        endpoint gets them, its own ``max_concurrency`` included."""
        if len(base_urls) < 1:
            raise ConfigError("an endpoint pool needs at least one base URL")
        super().__init__(model, base_url=base_urls[0], **options)
        self._endpoints = [
            _Endpoint(OpenAIModel(model, base_url=url, **options)) for url in base_urls
        ]
        self._turn = 0
        """Where the round of ties starts next."""
        self.name = (
            f"openai:{model}@{URL_SEPARATOR.join(e.model.base_url for e in self._endpoints)}"
        )

    def check_reachable(self) -> None:
        """ModelConnectionError only when no endpoint can be reached."""
        problems = [unreachable(e.model.base_url) for e in self._endpoints]
        if all(problems):
            details = "; ".join(
                f"{e.model.base_url}: {p}" for e, p in zip(self._endpoints, problems, strict=True)
            )
            raise ModelConnectionError(
                f"cannot reach any model server of {self.name} ({details}); start one or "
                "correct the URLs in --model, then rerun"
            )

    def stats(self) -> list[EndpointStats]:
        """The counters of every endpoint, in spec order."""
        now = time.monotonic()
        return [endpoint.stats(now) for endpoint in self._endpoints]

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        attempts = max(self.retry.max_attempts, len(self._endpoints))
        last: tuple[str, AttemptFailure] = ("", AttemptFailure("no attempt made"))
        for _ in range(attempts):
            endpoint = await self._choose()
            outcome = await self._send(endpoint, body)
            if not isinstance(outcome, AttemptFailure):
                return outcome
            last = (endpoint.model.base_url, outcome)
        url, failure = last
        message = (
            f"no endpoint of {self.name} answered after {attempts} attempts; the last, "
            f"{url}: {failure.description}"
        )
        raise ModelResponseError(message) if failure.malformed else ModelConnectionError(message)

    async def _choose(self) -> _Endpoint:
        """The available endpoint with the fewest requests in flight, waiting for one if
        every endpoint is out."""
        while True:
            now = time.monotonic()
            count = len(self._endpoints)
            order = [self._endpoints[(self._turn + i) % count] for i in range(count)]
            ready = [e for e in order if e.available(now)]
            if ready:
                best = min(ready, key=lambda e: e.in_flight)  # the first of the least loaded
                best.probing = best.failures_in_row > 0
                self._turn = self._endpoints.index(best) + 1
                return best
            backed_off = [e.out_until for e in self._endpoints if not e.probing]
            wake = min(backed_off, default=now + WAIT_POLL_S)
            await asyncio.sleep(max(min(wake - now, WAIT_POLL_S), 0.001))

    async def _send(
        self, endpoint: _Endpoint, body: dict[str, Any]
    ) -> dict[str, Any] | AttemptFailure:
        endpoint.requests += 1
        endpoint.in_flight += 1
        outcome: dict[str, Any] | AttemptFailure | None = None
        try:
            outcome = await endpoint.model.attempt(body)
        finally:
            endpoint.in_flight -= 1
            endpoint.probing = False
            if isinstance(outcome, AttemptFailure):
                self._take_out(endpoint, outcome)
            elif outcome is not None:
                endpoint.failures_in_row = 0
        assert outcome is not None  # otherwise attempt() raised
        return outcome

    def _take_out(self, endpoint: _Endpoint, failure: AttemptFailure) -> None:
        endpoint.failures += 1
        endpoint.failures_in_row += 1
        if failure.retry_after_s is not None:
            pause = min(max(failure.retry_after_s, 0.0), self.retry.max_delay_s)
        else:
            doubling = self.retry.base_delay_s * 2 ** (endpoint.failures_in_row - 1)
            pause = min(self.retry.max_delay_s, doubling)
        endpoint.out_until = max(endpoint.out_until, time.monotonic() + pause)

    async def aclose(self) -> None:
        for endpoint in self._endpoints:
            await endpoint.model.aclose()
        await super().aclose()


def endpoint_stats(model: ChatModel) -> list[EndpointStats]:
    """Per-endpoint counters of ``model`` or of the model it wraps; empty for a model with a
    single endpoint."""
    seen = 0
    while not isinstance(model, EndpointPoolModel):
        inner = getattr(model, "inner", None)
        if not isinstance(inner, ChatModel) or seen > 8:
            return []
        model, seen = inner, seen + 1
    return model.stats()
