"""A bounded, thread-safe LRU cache of verdicts keyed by the normalised answer pair."""

from __future__ import annotations

import threading
from collections import OrderedDict

from verimath.grading.status import Verdict

__all__ = ["CacheKey", "VerdictCache"]

CacheKey = tuple[str, str, str]
"""(answer kind, normalised reference, normalised prediction)."""


class VerdictCache:
    """Remembers up to ``size`` verdicts; the least recently used one goes first.

    Timeouts are cached too: the same hostile answer, met again while voting, must not cost
    another full timeout.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[CacheKey, Verdict] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> Verdict | None:
        """The cached verdict for ``key``, or None."""
        with self._lock:
            verdict = self._entries.get(key)
            if verdict is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return verdict

    def put(self, key: CacheKey, verdict: Verdict) -> None:
        """Remember ``verdict`` for ``key``, evicting the oldest entry when full."""
        if self.size <= 0:
            return
        with self._lock:
            self._entries[key] = verdict
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
