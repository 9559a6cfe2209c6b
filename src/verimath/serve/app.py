"""The HTTP service over the interpreter: Starlette routes, bearer-token auth, one status per
outcome (:mod:`verimath.serve.outcomes`). ``create_app`` builds it; ``verimath serve`` runs it
on uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import version

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from verimath.errors import SandboxUnavailableError
from verimath.serve.config import ServeConfig
from verimath.serve.metrics import ServeMetrics
from verimath.serve.openapi import openapi_document
from verimath.serve.outcomes import Refusal
from verimath.serve.sandboxfusion import parse_run_code, run_code_response, sandbox_error
from verimath.serve.schema import (
    cell_code,
    cell_timeout,
    only_fields,
    read_object,
    session_limits,
)
from verimath.serve.sessions import SessionPool

Handler = Callable[[Request], Awaitable[Response]]
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class Service:
    """The endpoints, around one session pool."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.metrics = ServeMetrics()
        self.pool = SessionPool(config, self.metrics)
        self._token = config.token.encode() if config.token else None

    def routes(self) -> list[Route]:
        guarded = self.guarded
        return [
            Route("/health", self.open(self.health), methods=["GET"]),
            Route("/metrics", guarded(self.metrics_text), methods=["GET"]),
            Route("/openapi.json", guarded(self.openapi), methods=["GET"]),
            Route("/v1/info", guarded(self.info), methods=["GET"]),
            Route("/v1/sessions", guarded(self.create_session), methods=["POST"]),
            Route("/v1/sessions/{sid}", guarded(self.session_state), methods=["GET"]),
            Route("/v1/sessions/{sid}", guarded(self.close_session), methods=["DELETE"]),
            Route("/v1/sessions/{sid}/cells", guarded(self.run_cell), methods=["POST"]),
            Route("/run_code", guarded(self.run_code), methods=["POST"]),
            Route("/v1/run_code", guarded(self.run_code), methods=["POST"]),
        ]

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.pool.start()
        expiry = asyncio.create_task(self.pool.expire_forever())
        try:
            yield
        finally:
            expiry.cancel()
            await asyncio.gather(expiry, return_exceptions=True)
            self.pool.close()

    def open(self, handler: Handler) -> Handler:
        """``handler`` with refusals and failures turned into their status and body."""

        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except Refusal as refusal:
                return self.refused(refusal)
            except SandboxUnavailableError as exc:
                self.metrics.failures.labels("sandbox_unavailable").inc()
                return self.refused(Refusal("sandbox_unavailable", str(exc).splitlines()[0]))
            except Exception as exc:  # a bug: a 500 with its one line, and the server goes on
                self.metrics.failures.labels("internal").inc()
                name = type(exc).__name__
                return self.refused(Refusal("internal", f"{name} in {request.url.path}: {exc}"))

        return endpoint

    def guarded(self, handler: Handler) -> Handler:
        """``open(handler)`` behind the bearer token, when the server has one."""
        inner = self.open(handler)
        if self._token is None:
            return inner
        expected = b"Bearer " + self._token

        async def endpoint(request: Request) -> Response:
            given = request.headers.get("authorization", "").encode("latin-1", "replace")
            if not hmac.compare_digest(given, expected):
                return self.refused(
                    Refusal("unauthorized", "send the server's token: Authorization: Bearer TOKEN")
                )
            return await inner(request)

        return endpoint

    def refused(self, refusal: Refusal) -> Response:
        if refusal.kind not in ("overloaded", "sandbox_unavailable", "internal"):
            self.metrics.rejections.labels(refusal.kind).inc()  # overloaded counts itself
        headers = {}
        if refusal.retry_after_s is not None:
            headers["Retry-After"] = str(refusal.retry_after_s)
        return JSONResponse(refusal.body(), refusal.status, headers=headers)

    async def health(self, request: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "sessions": self.pool.live, "cells": self.pool.inflight}
        )

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.text(), media_type=PROMETHEUS_TEXT)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def info(self, request: Request) -> Response:
        config = self.config
        return JSONResponse(
            {
                "version": version("verimath"),
                "limits": dataclasses.asdict(config.limits),
                "max_sessions": config.max_sessions,
                "cell_slots": config.cell_slots,
                "max_queued": config.max_queued,
                "ttl_s": config.ttl_s,
                "max_code_chars": config.max_code_chars,
            }
        )

    async def create_session(self, request: Request) -> Response:
        body = await read_object(request, self.config)
        only_fields(body, frozenset({"limits"}), "the session request")
        limits = session_limits(body.get("limits"), self.config.limits)
        live = await self.pool.create(limits)
        return JSONResponse(live.state(self.config.ttl_s), 201)

    async def session_state(self, request: Request) -> Response:
        live = self.pool.get(request.path_params["sid"])
        return JSONResponse(live.state(self.config.ttl_s))

    async def close_session(self, request: Request) -> Response:
        live = self.pool.close_session(request.path_params["sid"])
        return JSONResponse({**live.state(self.config.ttl_s), "closed": True})

    async def run_cell(self, request: Request) -> Response:
        live = self.pool.get(request.path_params["sid"])
        body = await read_object(request, self.config)
        only_fields(body, frozenset({"code", "timeout_s"}), "the cell request")
        code = cell_code(body, self.config)
        timeout = cell_timeout(body, live.limits.timeout_s)
        result = await self.pool.run(live, code, timeout)
        return JSONResponse({"session_id": live.id, **result.to_dict()})

    async def run_code(self, request: Request) -> Response:
        body = await read_object(request, self.config)
        cell_code(body, self.config)
        job = parse_run_code(body, self.config.limits)
        try:
            result = await self.pool.run_once(job.code, job.limits, job.setup)
        except SandboxUnavailableError as exc:  # SandboxFusion's shape for its own failures
            return JSONResponse(sandbox_error(str(exc).splitlines()[0]))
        return JSONResponse(run_code_response(result))


def create_app(config: ServeConfig) -> Starlette:
    """The sandbox service for ``config`` (its interpreter starts with the app)."""
    service = Service(config)
    app = Starlette(routes=service.routes(), lifespan=service.lifespan)
    app.state.service = service
    return app
