"""Scale-out: one router in front of several ``verimath serve`` replicas, sticky by session id.

A session is created on a replica (the one with the fewest sessions routed, skipping any that
is full or unreachable) and its id carries the replica's index (``r2.<id>``): every later
request of that session goes to that replica and no other. A replica that cannot be reached
ends its sessions: their requests answer ``410 lost`` naming the replica, never another
replica's results. One-shot ``run_code`` requests go to any replica that answers.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from verimath.interpreter.remote import TRANSPORT_ERRORS, Reply
from verimath.serve.config import ServeConfig
from verimath.serve.outcomes import Refusal
from verimath.serve.schema import read_object

RETRIED = frozenset({429, 503})
"""Statuses after which a new session or one-shot run is tried on the next replica."""


class Router:
    """Routes requests to replicas by the replica index in each session id."""

    def __init__(
        self, config: ServeConfig, replicas: list[str], replica_token: str | None = None
    ) -> None:
        self.config = config
        self.replicas = [url.rstrip("/") for url in replicas]
        self.routed = [0] * len(replicas)
        self._next = itertools.cycle(range(len(replicas)))
        outbound = replica_token or config.token
        self._headers = {"Authorization": f"Bearer {outbound}"} if outbound else {}
        self._client: aiohttp.ClientSession | None = None

    def routes(self) -> list[Route]:
        return [
            Route("/health", self.health, methods=["GET"]),
            Route("/v1/info", self.guard(self.info), methods=["GET"]),
            Route("/v1/sessions", self.guard(self.create), methods=["POST"]),
            Route("/v1/sessions/{sid}", self.guard(self.forward), methods=["GET", "DELETE"]),
            Route("/v1/sessions/{sid}/cells", self.guard(self.forward), methods=["POST"]),
            Route("/run_code", self.guard(self.run_code), methods=["POST"]),
            Route("/v1/run_code", self.guard(self.run_code), methods=["POST"]),
        ]

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._client = aiohttp.ClientSession(
            headers=self._headers,
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )
        try:
            yield
        finally:
            await self._client.close()

    def guard(self, handler: Any) -> Any:
        expected = f"Bearer {self.config.token}".encode() if self.config.token else None

        async def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "").encode("latin-1", "replace")
            try:
                if expected is not None and not hmac.compare_digest(given, expected):
                    raise Refusal(
                        "unauthorized", "send the server's token: Authorization: Bearer TOKEN"
                    )
                response: Response = await handler(request)
                return response
            except Refusal as refused:
                refusal = refused
            except ValueError as exc:  # a replica (or a proxy before it) answered no JSON
                refusal = Refusal("replica_unreachable", f"a replica answered no JSON: {exc}")
            except Exception as exc:  # a bug: a 500 with its one line, and the router goes on
                refusal = Refusal("internal", f"{type(exc).__name__} in {request.url.path}: {exc}")
            headers = {"Retry-After": str(refusal.retry_after_s)} if refusal.retry_after_s else {}
            return JSONResponse(refusal.body(), refusal.status, headers=headers)

        return endpoint

    async def health(self, request: Request) -> Response:
        states = []
        for url in self.replicas:
            try:
                reply = await self._send("GET", f"{url}/health", None)
                states.append({"url": url, "status": json.loads(reply.body).get("status", "?")})
            except (*TRANSPORT_ERRORS, ValueError, AttributeError) as exc:
                states.append({"url": url, "status": f"unreachable ({type(exc).__name__})"})
        up = sum(state["status"] == "ok" for state in states)
        return JSONResponse(
            {"status": "ok" if up else "down", "replicas": states}, 200 if up else 503
        )

    async def info(self, request: Request) -> Response:
        return await self._first_answer("GET", "/v1/info", None)

    async def create(self, request: Request) -> Response:
        body = await read_object(request, self.config)
        order = sorted(range(len(self.replicas)), key=lambda i: self.routed[i])
        reply, index = await self._try_in_turn(order, "POST", "/v1/sessions", body)
        payload = json.loads(reply.body)
        if reply.status == 201:
            self.routed[index] += 1
            payload["session_id"] = f"r{index}.{payload['session_id']}"
        return JSONResponse(payload, reply.status, headers=_retry_after(reply))

    async def forward(self, request: Request) -> Response:
        index, inner = self._replica_of(request.path_params["sid"])
        body = await read_object(request, self.config) if request.method == "POST" else None
        tail = request.url.path.rsplit(request.path_params["sid"], 1)[1]
        url = f"{self.replicas[index]}/v1/sessions/{inner}{tail}"
        try:
            reply = await self._send(request.method, url, body)
        except TRANSPORT_ERRORS as exc:
            raise Refusal(
                "lost",
                f"replica r{index} ({self.replicas[index]}) cannot be reached "
                f"({type(exc).__name__}): its sessions are gone; create a new session",
            ) from exc
        payload = json.loads(reply.body)
        if isinstance(payload, dict) and "session_id" in payload:
            payload["session_id"] = f"r{index}.{payload['session_id']}"
        if request.method == "DELETE" and reply.status == 200:
            self.routed[index] = max(0, self.routed[index] - 1)
        return JSONResponse(payload, reply.status, headers=_retry_after(reply))

    async def run_code(self, request: Request) -> Response:
        body = await read_object(request, self.config)
        return await self._first_answer("POST", "/run_code", body)

    async def _first_answer(self, method: str, path: str, body: object) -> Response:
        start = next(self._next)
        order = [(start + i) % len(self.replicas) for i in range(len(self.replicas))]
        reply, _ = await self._try_in_turn(order, method, path, body)
        return Response(
            reply.body,
            reply.status,
            headers=_retry_after(reply),
            media_type="application/json",
        )

    async def _try_in_turn(
        self, order: list[int], method: str, path: str, body: object
    ) -> tuple[Reply, int]:
        """The first answer not in RETRIED from the replicas in ``order`` (else the last one);
        a 502 Refusal when none answered."""
        last: tuple[Reply, int] | None = None
        for index in order:
            try:
                reply = await self._send(method, f"{self.replicas[index]}{path}", body)
            except TRANSPORT_ERRORS:
                continue
            last = (reply, index)
            if reply.status not in RETRIED:
                return last
        if last is not None:
            return last
        raise Refusal("replica_unreachable", f"none of the {len(self.replicas)} replicas answered")

    async def _send(self, method: str, url: str, body: object) -> Reply:
        """One request to a replica, its answer read whole (replicas are ours, and bounded)."""
        assert self._client is not None, "the router's lifespan has not started"
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else None
        async with self._client.request(method, url, data=data, headers=headers) as response:
            content = await response.read()
            return Reply(response.status, content, response.headers.get("Retry-After", ""))

    def _replica_of(self, session_id: str) -> tuple[int, str]:
        prefix, _, inner = session_id.partition(".")
        number = prefix[1:]
        if not prefix.startswith("r") or not number.isdigit() or int(number) >= len(self.replicas):
            raise Refusal("not_found", f"no session {session_id[:80]} (not an id of this router)")
        return int(number), inner


def _retry_after(reply: Reply) -> dict[str, str]:
    return {"Retry-After": reply.retry_after} if reply.retry_after else {}


def create_router_app(
    config: ServeConfig, replicas: list[str], replica_token: str | None = None
) -> Starlette:
    """A router over ``replicas`` (base URLs of ``verimath serve``). Clients show it
    ``config.token``; it shows the replicas ``replica_token`` (default: the same token), so a
    router on a training node's loopback can take token-less requests (verl's SandboxFusion
    client sends none) and still reach token-protected replicas."""
    router = Router(config, replicas, replica_token)
    app = Starlette(routes=router.routes(), lifespan=router.lifespan)
    app.state.router = router
    return app


__all__ = ["Router", "create_router_app"]
