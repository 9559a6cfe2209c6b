"""Live sessions of a sandbox server: creation within bounds, cells through a bounded queue,
expiry after an idle TTL.

A cell runs in a task of its own, shielded from the request that asked for it: a client that
disconnects mid-cell leaves the cell to finish and the session to live on until its TTL.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import re
import secrets
import time
from dataclasses import dataclass, field

from verimath.errors import SandboxUnavailableError
from verimath.interpreter import CellResult, CellStatus, Interpreter, Limits, Session
from verimath.serve.config import ServeConfig
from verimath.serve.metrics import ServeMetrics
from verimath.serve.outcomes import Refusal

SESSION_ID = re.compile(r"([0-9a-f]{8})-[A-Za-z0-9_-]{16}")
"""A session id: the server run's instance, then 96 random bits."""
EXPIRED_REMEMBERED = 10_000
"""Expired session ids kept to say "expired" rather than "never existed"."""


@dataclass
class LiveSession:
    """A session as the server holds it."""

    id: str
    session: Session
    limits: Limits
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    cells: int = 0
    cpu_s: float = 0.0
    busy: bool = False
    ended_because: str | None = None
    """Why its last cell ended its process (its variables are gone), if it did."""
    closed: bool = False
    """Closed while a cell ran: its process ends when the cell does."""

    def state(self, ttl_s: float) -> dict[str, object]:
        idle = 0.0 if self.busy else time.monotonic() - self.last_used
        return {
            "session_id": self.id,
            "alive": self.ended_because is None,
            "busy": self.busy,
            "cells": self.cells,
            "cpu_s": round(self.cpu_s, 6),
            "idle_s": round(idle, 3),
            "expires_in_s": round(max(0.0, ttl_s - idle), 3),
            "ended_because": self.ended_because,
            "limits": dataclasses.asdict(self.limits),
        }


class SessionPool:
    """The server's sessions and the interpreters (one per distinct set of limits) behind them."""

    def __init__(self, config: ServeConfig, metrics: ServeMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self.instance = secrets.token_hex(4)
        """Prefix of this server run's session ids: an id of an earlier run is ``lost``."""
        self._sessions: dict[str, LiveSession] = {}
        self._expired: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._interpreters: dict[Limits, Interpreter] = {}
        self._slots = asyncio.Semaphore(config.cell_slots)
        self._inflight = 0
        self._tasks: set[asyncio.Task[CellResult]] = set()

    async def start(self) -> None:
        """Start the default interpreter (SandboxUnavailableError when the sandbox cannot run)."""
        await self._interpreter(self.config.limits)

    def prepare(self) -> None:
        """Start the default interpreter now, outside any event loop (at the command line, so
        that a sandbox that cannot run is one line before the server listens)."""
        interpreter = Interpreter(self.config.limits)
        interpreter.start()
        self._interpreters[self.config.limits] = interpreter

    def close(self) -> None:
        for live in list(self._sessions.values()):
            live.session.close()
        self._sessions.clear()
        for interpreter in self._interpreters.values():
            interpreter.close()
        self._interpreters.clear()

    @property
    def live(self) -> int:
        return len(self._sessions)

    @property
    def inflight(self) -> int:
        return self._inflight

    async def create(self, limits: Limits) -> LiveSession:
        """A new session with ``limits`` (already checked against the server's)."""
        if len(self._sessions) >= self.config.max_sessions:
            raise self._overloaded(f"{self.config.max_sessions} sessions are live")
        interpreter = await self._interpreter(limits)
        session_id = f"{self.instance}-{secrets.token_urlsafe(12)}"
        live = LiveSession(session_id, interpreter.session(), limits)
        self._sessions[session_id] = live
        self.metrics.sessions_live.set(len(self._sessions))
        return live

    def get(self, session_id: str) -> LiveSession:
        """The live session ``session_id``; a Refusal saying whether it expired, belonged to
        an earlier run of the server (``lost``) or never existed."""
        live = self._sessions.get(session_id)
        if live is not None:
            return live
        shown = session_id[:80]
        if session_id in self._expired:
            raise Refusal(
                "not_found", f"session {shown} expired after {self.config.ttl_s:g} s idle"
            )
        earlier = SESSION_ID.fullmatch(session_id)
        if earlier and earlier.group(1) != self.instance:
            raise Refusal(
                "lost",
                f"session {shown} is not of this server run: the server it was on ended, "
                "so its variables are gone; create a new session",
            )
        raise Refusal("not_found", f"no session {shown} (closed or never created)")

    def close_session(self, session_id: str) -> LiveSession:
        live = self.get(session_id)
        self._drop(live)
        return live

    async def run(self, live: LiveSession, code: str, timeout_s: float | None) -> CellResult:
        """Run one cell of ``live``; the cell goes on if the caller is cancelled."""
        if live.closed:  # closed or expired while its request was read
            raise Refusal("not_found", f"session {live.id} was closed")
        if live.busy:
            raise Refusal(
                "busy", f"session {live.id} is running a cell; send the next one after it"
            )
        self._admit()
        live.busy = True
        task = asyncio.ensure_future(self._run(live, code, timeout_s))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)

    async def run_once(self, code: str, limits: Limits, setup: str | None) -> CellResult:
        """Run ``code`` in a session of its own (after ``setup``, whose result is dropped
        unless it failed), then close it."""
        self._admit()
        task = asyncio.ensure_future(self._run_once(code, limits, setup))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)

    def expire(self) -> int:
        """Close the sessions idle for longer than the TTL; how many were closed."""
        now, ttl = time.monotonic(), self.config.ttl_s
        idle = [s for s in self._sessions.values() if not s.busy and now - s.last_used > ttl]
        for live in idle:
            self._drop(live)
            self._expired[live.id] = None
            while len(self._expired) > EXPIRED_REMEMBERED:
                self._expired.popitem(last=False)
        return len(idle)

    async def expire_forever(self) -> None:
        """Expire idle sessions every few seconds, until cancelled."""
        period = min(5.0, self.config.ttl_s / 4)
        while True:
            await asyncio.sleep(period)
            self.expire()

    def _admit(self) -> None:
        limit = self.config.cell_slots + self.config.max_queued
        if self._inflight >= limit:
            raise self._overloaded(f"{limit} cells are running or queued")
        self._inflight += 1
        self.metrics.cells_queued.set(self._inflight)

    async def _run(self, live: LiveSession, code: str, timeout_s: float | None) -> CellResult:
        try:
            result = await self._slotted(live.session, code, timeout_s or live.limits.timeout_s)
        finally:
            self._release()
            live.busy = False
            live.last_used = time.monotonic()
            if live.closed:
                live.session.close()
        live.cells += 1
        live.cpu_s += result.cpu_s
        live.ended_because = result.detail if result.status is CellStatus.KILLED else None
        return result

    async def _run_once(self, code: str, limits: Limits, setup: str | None) -> CellResult:
        try:
            interpreter = await self._interpreter(limits)
            with interpreter.session() as session:
                if setup is not None:
                    prepared = await self._slotted(session, setup, limits.timeout_s)
                    if not prepared.ok:
                        return prepared
                return await self._slotted(session, code, limits.timeout_s)
        finally:
            self._release()

    async def _slotted(self, session: Session, code: str, timeout_s: float) -> CellResult:
        """A cell run in one of the slots; counted and timed (its queue place is the
        caller's to give back)."""
        started = time.perf_counter()
        try:
            async with self._slots:
                result = await session.arun(code, timeout_s)
        except SandboxUnavailableError:
            self.metrics.failures.labels("sandbox_unavailable").inc()
            raise
        self.metrics.cells.labels(str(result.status)).inc()
        self.metrics.latency.observe(time.perf_counter() - started)
        return result

    def _release(self) -> None:
        self._inflight -= 1
        self.metrics.cells_queued.set(self._inflight)

    async def _interpreter(self, limits: Limits) -> Interpreter:
        """The interpreter serving ``limits`` (its per-cell timeout apart), started if new."""
        key = dataclasses.replace(limits, timeout_s=self.config.limits.timeout_s)
        interpreter = self._interpreters.get(key)
        if interpreter is not None:
            return interpreter
        self._forget_unused_profiles()
        if len(self._interpreters) >= self.config.max_profiles:
            raise self._overloaded(f"{self.config.max_profiles} distinct sets of limits are in use")
        interpreter = Interpreter(key)
        self._interpreters[key] = interpreter
        try:
            await asyncio.to_thread(interpreter.start)
        except BaseException:
            self._interpreters.pop(key, None)
            interpreter.close()
            self.metrics.failures.labels("sandbox_unavailable").inc()
            raise
        return interpreter

    def _forget_unused_profiles(self) -> None:
        used = {
            dataclasses.replace(s.limits, timeout_s=self.config.limits.timeout_s)
            for s in self._sessions.values()
        }
        default = self.config.limits
        for key in [k for k in self._interpreters if k not in used and k != default]:
            if self._inflight == 0:
                self._interpreters.pop(key).close()

    def _drop(self, live: LiveSession) -> None:
        self._sessions.pop(live.id, None)
        live.closed = True
        if not live.busy:  # else the cell's task closes it when the cell is done
            live.session.close()
        self.metrics.sessions_live.set(len(self._sessions))

    def _overloaded(self, why: str) -> Refusal:
        self.metrics.rejections.labels("overloaded").inc()
        return Refusal(
            "overloaded",
            f"the server is full ({why}); retry after {self.config.retry_after_s} s",
            self.config.retry_after_s,
        )
