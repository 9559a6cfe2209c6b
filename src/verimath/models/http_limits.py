"""A model server's reply read within bounds: the HTTP transport under the OpenAI SDK's client.

The SDK reads and decompresses whatever a server sends: a 508 KiB gzip reply that inflates to
512 MiB would all be in memory before anything looks at it. :class:`BoundedTransport` sits
under the SDK's HTTP client and reads every reply, error replies included, itself: the raw body
counted as it arrives and refused past ``limit`` bytes, then its content encodings (only
``gzip`` and ``deflate``, the ones it asks for) undone with :func:`verimath.bounded.inflate`,
which stops at ``limit`` decompressed bytes. The SDK then gets a plain, already-read response.

A reply past a bound raises :class:`ReplyRefused`, which the backend turns into a one-line
``ModelResponseError`` naming the server. Time is not bounded here: the backend puts a total
deadline around each request (connect, sending, every read, the SDK's own work).
"""

from __future__ import annotations

import sys
import urllib.request
import zlib
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import openai

from verimath.bounded import BoundsExceeded, inflate, inflated_size

__all__ = ["ACCEPTED_ENCODINGS", "BoundedTransport", "ReplyRefused", "bounded_http_client"]

ACCEPTED_ENCODINGS = "gzip, deflate"
"""What the client asks for: the encodings it can undo within a bound."""
_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_GZIP_WBITS = 31
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS


class ReplyRefused(Exception):
    """A reply broke a bound or cannot be decoded (the message says which and how)."""


def _sdk_http_library() -> ModuleType:
    """The HTTP library the installed SDK is built on (``httpx``, or its fork ``httpx2``)."""
    for cls in openai.DefaultAsyncHttpxClient.__mro__:
        if cls.__name__ == "AsyncClient":
            return sys.modules[cls.__module__.split(".")[0]]
    raise ImportError("the openai SDK's HTTP client is not an httpx AsyncClient")


HTTP = _sdk_http_library()


def bounded_http_client(base_url: str, limit: int, timeout_s: float) -> Any:
    """The SDK's default async HTTP client for ``base_url``, reading replies through a
    :class:`BoundedTransport` (``timeout_s`` is the library's per-operation timeout, under the
    backend's deadline). A proxy set in the environment for the URL is used, as the SDK's
    own client would."""
    # duck-typed: the SDK's library may be httpx or httpx2, whose base classes differ
    transport: Any = BoundedTransport(_network_transport(base_url), limit)
    return openai.DefaultAsyncHttpxClient(transport=transport, timeout=timeout_s)


def _network_transport(base_url: str) -> Any:
    """The library's own transport, through the environment's proxy for ``base_url`` if any
    (a client given a transport no longer reads the proxy variables itself)."""
    parts = urlsplit(base_url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    limits = openai.DEFAULT_CONNECTION_LIMITS
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return HTTP.AsyncHTTPTransport(proxy=proxy, limits=limits)
    return HTTP.AsyncHTTPTransport(limits=limits)


class BoundedTransport:
    """An async HTTP transport whose responses are read in full, within ``limit`` bytes raw
    and ``limit`` bytes decoded, before the client sees them."""

    def __init__(self, inner: Any, limit: int) -> None:
        self.inner = inner
        self.limit = limit

    async def handle_async_request(self, request: Any) -> Any:
        request.headers["Accept-Encoding"] = ACCEPTED_ENCODINGS
        response = await self.inner.handle_async_request(request)
        try:
            raw = await self._read_raw(response)
        finally:
            await response.aclose()
        body = decode_body(raw, response.headers.get("content-encoding", ""), self.limit)
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in _DROPPED_HEADERS
        ]
        return HTTP.Response(
            response.status_code,
            headers=headers,
            content=body,
            request=request,
            extensions=response.extensions,
        )

    async def _read_raw(self, response: Any) -> bytes:
        chunks, size = [], 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > self.limit:
                raise ReplyRefused(f"a reply larger than {_mib(self.limit)} (--max-response-mb)")
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> BoundedTransport:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.inner.__aexit__(*exc_info)


def decode_body(raw: bytes, content_encoding: str, limit: int) -> bytes:
    """``raw`` with its content encodings undone (last applied, first undone), never more than
    ``limit`` bytes; ReplyRefused for an encoding it did not ask for or a damaged stream."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    body = raw
    for coding in reversed(codings):
        body = _undo(coding, body, limit)
    return body


def _undo(coding: str, body: bytes, limit: int) -> bytes:
    if coding == "identity" or not body:
        return body
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise ReplyRefused(
            f"a reply in content encoding {coding[:40]!r}, which was not asked for "
            f"(Accept-Encoding: {ACCEPTED_ENCODINGS})"
        )
    try:
        if coding != "deflate":
            return _inflate(body, limit, _GZIP_WBITS)
        try:
            return _inflate(body, limit, _ZLIB_WBITS)
        except BoundsExceeded as exc:
            if exc.kind != "compression":
                raise
            return _inflate(body, limit, _RAW_DEFLATE_WBITS)  # deflate without its zlib header
    except BoundsExceeded as exc:
        if exc.kind == "size":
            raise ReplyRefused(
                f"a {coding} reply that {exc} (the cap is {_mib(limit)}, --max-response-mb)"
            ) from None
        raise ReplyRefused(f"a {coding} reply that cannot be decoded ({exc})") from None


def _inflate(body: bytes, limit: int, wbits: int) -> bytes:
    # counted first: a bomb is refused having held one chunk, not ``limit`` bytes
    inflated_size(body, limit=limit, wbits=wbits)
    return inflate(body, limit=limit, wbits=wbits)


def _mib(limit: int) -> str:
    mib = limit / (1 << 20)
    return f"{mib:g} MiB" if mib >= 1 else f"{limit:,} bytes"
