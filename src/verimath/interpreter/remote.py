"""``RemoteInterpreter``: the executor protocol over HTTP, against ``verimath serve``.

    with RemoteInterpreter("http://sandbox:8421", token=...) as interp, interp.session() as s:
        s.run("x = 5")
        s.run("x + 1").output  # '6\\n'

Sessions behave as local ones: variables persist across cells; a session whose process ended
says so in that cell (``killed``) and the next cell runs in a fresh session, marked
``restarted``. When the server lost a session between cells (it expired, or its replica went
away), the next cell runs in a fresh session and says so the same way; a cell whose answer
never came (the host went away mid-cell) is ``killed`` with the reason. A full server (429)
is waited out, as its ``Retry-After`` asks, with growing pauses up to ``patience_s``.
Infrastructure failures raise ``SandboxUnavailableError``; the code's own failures are results.

One transport, aiohttp (its client costs a fraction of the CPU per request of the others
measured): ``arun`` uses a connection pool on the caller's event loop, ``run`` one on a
private event loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import threading
import time
from concurrent.futures import Future
from typing import Any

import aiohttp

from verimath.bounded import BoundsExceeded, loads_json
from verimath.errors import ConfigError, SandboxUnavailableError
from verimath.interpreter.limits import Limits
from verimath.interpreter.result import CellResult, CellStatus
from verimath.interpreter.session import _restart_note

MAX_REPLY_BYTES = 8 << 20
MAX_REPLY_DEPTH = 8
CONNECT_TIMEOUT_S = 10.0
QUEUE_MARGIN_S = 600.0
FIRST_PAUSE_S = 0.05
MAX_PAUSE_S = 10.0
GONE = frozenset({404, 410})
"""The server no longer has the session (expired, closed, or its server ended)."""
BUSY = frozenset({429})
TRANSPORT_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)


@dataclasses.dataclass(frozen=True)
class Reply:
    """A server's answer, read within MAX_REPLY_BYTES."""

    status: int
    body: bytes
    retry_after: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class RemoteInterpreter:
    """Sessions on a ``verimath serve`` host: the same protocol as ``Interpreter``.

    ``limits`` (default: the server's) must not exceed the server's; ``start`` checks both
    the token and the limits, with a one-line ``ConfigError`` for either.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        limits: Limits | None = None,
        patience_s: float = 600.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._asked = limits
        self.limits = limits or Limits()
        self.patience_s = patience_s
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._clients: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._pending: set[asyncio.Task[Any]] = set()
        self._thread: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None
        self._lock = threading.Lock()
        self._started = False
        self.cell_slots: int | None = None
        """Cells the server runs or queues at once (known after ``start``): how many a
        caller should keep in flight to use it without meeting 429s."""

    def start(self) -> RemoteInterpreter:
        """Reach the server, check the token and that the limits fit within the server's."""
        if not self._started:
            self._check(self._call_sync("GET", "/v1/info", None))
            self._started = True
        return self

    def session(self) -> RemoteSession:
        """A new notebook session; the server creates it with its first cell."""
        return RemoteSession(self)

    def close(self) -> None:
        """Close the connections (on an event loop: once the sessions' closing is sent)."""
        for loop, client in list(self._clients.items()):
            if self._thread is not None and loop is self._thread[0]:
                continue
            if loop.is_running() and not loop.is_closed():
                self._keep(loop.create_task(_close_after(set(self._pending), client)))
        self._clients = {k: v for k, v in self._clients.items() if self._on_thread(k)}
        self._stop_thread()

    def __enter__(self) -> RemoteInterpreter:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> RemoteInterpreter:
        if not self._started:
            self._check(await self._call("GET", "/v1/info", None))
            self._started = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.gather(*self._pending, return_exceptions=True)
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()
        self.close()

    def _check(self, info: Reply) -> None:
        if info.status == 401:
            raise ConfigError(f"the sandbox at {self.url} refused the token: pass its --token")
        body = _checked(self.url, info)
        server = _server_limits(self.url, body)
        slots, queued = body.get("cell_slots"), body.get("max_queued")
        if isinstance(slots, int) and isinstance(queued, int) and 0 < slots + queued < 1 << 20:
            self.cell_slots = slots + queued
        if self._asked is None:
            self.limits = server
        too_big = [
            f"{f.name} {getattr(self.limits, f.name)} > {getattr(server, f.name)}"
            for f in dataclasses.fields(Limits)
            if getattr(self.limits, f.name) > getattr(server, f.name)
        ]
        if too_big:
            raise ConfigError(
                f"the sandbox at {self.url} allows less than asked ({', '.join(too_big)}): "
                "lower these limits or raise the server's"
            )

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.closed:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
            client = aiohttp.ClientSession(
                headers=self._headers, connector=connector, timeout=timeout
            )
            self._clients[loop] = client
        return client

    async def _send(self, method: str, path: str, body: object) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else None
        try:
            async with self._client().request(
                method, self.url + path, data=data, headers=headers, timeout=self._deadline()
            ) as response:
                content = await _read_bounded(self.url, response)
                return Reply(response.status, content, response.headers.get("Retry-After", ""))
        except TRANSPORT_ERRORS as exc:
            raise SandboxUnavailableError(
                f"the sandbox at {self.url} cannot be reached ({type(exc).__name__}: {exc}); "
                "is 'verimath serve' running there?"
            ) from exc

    def _deadline(self) -> aiohttp.ClientTimeout:
        """How long an answer may take: the longest a cell can run on the server (its
        wall-clock limit and grace), plus QUEUE_MARGIN_S for the server's queue. Past it the
        host is taken for lost (a connection that breaks is noticed at once)."""
        limits = self.limits
        longest = limits.timeout_s * limits.wait_factor + limits.grace_s
        return aiohttp.ClientTimeout(
            total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=longest + QUEUE_MARGIN_S
        )

    async def _call(self, method: str, path: str, body: object) -> Reply:
        """``_send``, waiting out 429s as they ask, with growing pauses, up to patience_s."""
        deadline = time.monotonic() + self.patience_s
        attempt = 0
        while True:
            reply = await self._send(method, path, body)
            if reply.status not in BUSY or time.monotonic() > deadline:
                return reply
            await asyncio.sleep(_pause(attempt, reply))
            attempt += 1

    def _call_sync(self, method: str, path: str, body: object) -> Reply:
        future: Future[Reply] = asyncio.run_coroutine_threadsafe(
            self._call(method, path, body), self._loop()
        )
        return future.result()

    def _loop(self) -> asyncio.AbstractEventLoop:
        """The private event loop of the blocking calls, started on first use."""
        with self._lock:
            if self._thread is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="verimath-remote", daemon=True
                )
                thread.start()
                self._thread = (loop, thread)
            return self._thread[0]

    def _on_thread(self, loop: asyncio.AbstractEventLoop) -> bool:
        return self._thread is not None and loop is self._thread[0]

    def _stop_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                return
            loop, thread = self._thread
            self._thread = None
        client = self._clients.pop(loop, None)
        if client is not None:
            asyncio.run_coroutine_threadsafe(client.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


class RemoteSession:
    """One notebook on the server; same behaviour as a local ``Session``."""

    def __init__(self, interpreter: RemoteInterpreter) -> None:
        self._interpreter = interpreter
        self._id: str | None = None
        self._restart_reason: str | None = None
        self.cell_count = 0

    @property
    def session_id(self) -> str | None:
        """The server's id of the session (None before its first cell, or once it is gone)."""
        return self._id

    def run(self, code: str, timeout: float | None = None) -> CellResult:
        """Run one cell and wait for it; never raises for anything the code does."""
        interp = self._interpreter
        future = asyncio.run_coroutine_threadsafe(self.arun(code, timeout), interp._loop())
        return future.result()

    async def arun(self, code: str, timeout: float | None = None) -> CellResult:
        """Run one cell, awaiting its result on the running event loop."""
        interp = self._interpreter
        for _ in range(2):
            if self._id is None:
                created = await interp._call("POST", "/v1/sessions", self._new())
                self._id = _session_id(interp.url, created)
            index, started = self._next_index(), time.monotonic()
            try:
                reply = await interp._call("POST", self._cells(), _cell(code, timeout))
            except SandboxUnavailableError as exc:
                return self._lost(index, started, exc)
            if reply.status not in GONE:
                return self._result(reply, index)
            self._gone(reply, index)
        raise SandboxUnavailableError(
            f"the sandbox at {interp.url} lost a new session at once: {self._restart_reason}"
        )

    def close(self) -> None:
        """Close the session on the server (in the background when on an event loop; a
        session not closed expires after the server's TTL)."""
        session_id, self._id = self._id, None
        if session_id is None:
            return
        interp = self._interpreter
        closing = interp._send("DELETE", f"/v1/sessions/{session_id}", None)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            future = asyncio.run_coroutine_threadsafe(_quietly(closing), interp._loop())
            future.result()
            return
        interp._keep(loop.create_task(_quietly(closing)))

    def __enter__(self) -> RemoteSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> RemoteSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def _new(self) -> dict[str, object]:
        return {"limits": dataclasses.asdict(self._interpreter.limits)}

    def _cells(self) -> str:
        return f"/v1/sessions/{self._id}/cells"

    def _next_index(self) -> int:
        self.cell_count += 1
        return self.cell_count

    def _gone(self, reply: Reply, index: int) -> None:
        """The server no longer has the session: the cell never ran; the next try runs it in
        a new session, marked restarted."""
        self._id, self.cell_count = None, index - 1
        self._restart_reason = _message(reply) or "the server no longer has the session"

    def _lost(self, index: int, started: float, exc: SandboxUnavailableError) -> CellResult:
        """The cell's answer never came: its session is presumed gone (killed), as a local
        session whose process died."""
        reason = f"the sandbox host was lost during the cell ({str(exc).splitlines()[0]})"
        self._id, self._restart_reason = None, reason
        note = f"\n[session ended: {reason}; variables from earlier cells are lost]"
        return CellResult(note, CellStatus.KILLED, time.monotonic() - started, index, False, reason)

    def _result(self, reply: Reply, index: int) -> CellResult:
        # the server's session restarts by itself after a killed cell, and says so
        result = _cell_result(self._interpreter.url, _checked(self._interpreter.url, reply))
        restarted_because, self._restart_reason = self._restart_reason, None
        if restarted_because is None:
            return dataclasses.replace(result, cell_index=index)
        output = _restart_note(restarted_because) + result.output
        return dataclasses.replace(result, output=output, cell_index=index, restarted=True)


def _cell(code: str, timeout: float | None) -> dict[str, object]:
    return {"code": code} if timeout is None else {"code": code, "timeout_s": timeout}


async def _read_bounded(url: str, response: aiohttp.ClientResponse) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > MAX_REPLY_BYTES:
            raise SandboxUnavailableError(
                f"the sandbox at {url} sent a reply over {MAX_REPLY_BYTES} bytes"
            )
    return bytes(body)


async def _quietly(request: Any) -> None:
    with contextlib.suppress(SandboxUnavailableError):  # else the server's TTL expires it
        await request


async def _close_after(pending: set[asyncio.Task[Any]], client: aiohttp.ClientSession) -> None:
    """Close ``client`` once the requests in flight (closing sessions) are done."""
    await asyncio.gather(*pending, return_exceptions=True)
    await client.close()


def _pause(attempt: int, reply: Reply) -> float:
    """How long to wait before retrying a 429: its Retry-After, growing, with jitter."""
    base = float(reply.retry_after) if reply.retry_after.isdigit() else FIRST_PAUSE_S
    grown: float = min(MAX_PAUSE_S, max(base, FIRST_PAUSE_S * 2**attempt))
    return grown * random.uniform(0.5, 1.0)


def _checked(url: str, reply: Reply) -> dict[str, Any]:
    """A 2xx reply's JSON object; SandboxUnavailableError naming the server otherwise."""
    if not reply.ok:
        if reply.status == 401:
            raise ConfigError(f"the sandbox at {url} refused the token: pass its --token")
        raise SandboxUnavailableError(
            f"the sandbox at {url} answered {reply.status}: {_message(reply)}"
        )
    try:
        value = loads_json(reply.body, max_depth=MAX_REPLY_DEPTH)
    except (BoundsExceeded, ValueError) as exc:
        raise SandboxUnavailableError(
            f"the sandbox at {url} sent a reply that is not JSON: {exc}"
        ) from exc
    if not isinstance(value, dict):
        raise SandboxUnavailableError(f"the sandbox at {url} sent a reply that is not an object")
    return value


def _message(reply: Reply) -> str:
    text = reply.body[:65536].decode("utf-8", "replace")
    try:
        value = loads_json(text, max_depth=MAX_REPLY_DEPTH)
    except (BoundsExceeded, ValueError):
        return text[:200]
    message = value.get("message") if isinstance(value, dict) else None
    return str(message)[:500] if message else text[:200]


def _session_id(url: str, reply: Reply) -> str:
    session_id = _checked(url, reply).get("session_id")
    if not isinstance(session_id, str) or not 0 < len(session_id) <= 200:
        raise SandboxUnavailableError(f"the sandbox at {url} sent no session id")
    return session_id


def _server_limits(url: str, info: dict[str, Any]) -> Limits:
    values = info.get("limits")
    if not isinstance(values, dict):
        raise SandboxUnavailableError(f"the sandbox at {url} did not say its limits")
    known = {f.name for f in dataclasses.fields(Limits)}
    try:
        return Limits(**{k: v for k, v in values.items() if k in known})
    except (TypeError, ConfigError) as exc:
        raise SandboxUnavailableError(f"the sandbox at {url} sent unusable limits: {exc}") from exc


def _cell_result(url: str, body: dict[str, Any]) -> CellResult:
    """A CellResult from the server's JSON, every field checked."""
    try:
        status = CellStatus(body["status"])
        output, detail = body["output"], body.get("detail")
        numbers = [body["duration_s"], body.get("cpu_s", 0.0)]
        if not isinstance(output, str) or not (detail is None or isinstance(detail, str)):
            raise TypeError("output and detail must be strings")
        if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in numbers):
            raise TypeError("duration_s and cpu_s must be numbers")
    except (KeyError, ValueError, TypeError) as exc:
        raise SandboxUnavailableError(
            f"the sandbox at {url} sent an unusable cell result: {exc}"
        ) from exc
    duration, cpu = (float(n) for n in numbers)
    return CellResult(output, status, duration, 0, bool(body.get("restarted")), detail, cpu)
