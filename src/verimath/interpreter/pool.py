"""A bounded pool of pre-started session processes, each handed out once.

A background thread keeps up to ``size`` processes started, sandboxed and waiting for their
first cell, so that a new session's first cell does not wait for a fork. A process is taken by
one session only and never comes back: when that session ends, its process is killed like any
other. The pool belongs to one interpreter, hence to one set of limits; a process started
before its session's seed was known is reseeded with its first cell.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Pooled(Protocol):
    """What the pool needs of a process: whether it still lives, and how to end it."""

    def alive(self) -> bool: ...

    def discard(self) -> None: ...


T = TypeVar("T", bound=Pooled)


class SessionPool(Generic[T]):
    """Up to ``size`` ready processes made by ``start``, refilled by a daemon thread."""

    def __init__(self, start: Callable[[], T], size: int) -> None:
        self._start = start
        self.size = size
        self._ready: collections.deque[T] = collections.deque()
        self._wanted = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.failure: str | None = None
        """Why refilling stopped (a start failed); sessions then start their own process."""

    def take(self) -> T | None:
        """A ready process for one session, or None (empty, closed or failed): never blocks."""
        if self._closed or self.size <= 0:
            return None
        self._ensure_thread()
        while True:
            try:
                process = self._ready.popleft()
            except IndexError:
                return None
            finally:
                self._wanted.set()
            if process.alive():
                return process
            process.discard()  # ended while waiting (its server restarted): not handed out

    def close(self) -> None:
        """Stop refilling and end every process not handed out."""
        self._closed = True
        self._wanted.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self.drain()

    def drain(self) -> None:
        """End every process not handed out (the server they came from is going away)."""
        while self._ready:
            self._ready.popleft().discard()

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._refill, name="session-pool", daemon=True)
            self._thread.start()

    def _refill(self) -> None:
        while not self._closed:
            self._wanted.clear()
            while not self._closed and len(self._ready) < self.size:
                try:
                    process = self._start()
                except Exception as exc:  # the session that needs one reports the failure
                    self.failure = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    return
                if self._closed:
                    process.discard()
                    return
                self._ready.append(process)
            self._wanted.wait()
