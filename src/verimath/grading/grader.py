"""The Grader: extraction, normalisation, quick verdicts, a cache, and the worker pool."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType

from verimath.errors import GradingError
from verimath.grading.cache import CacheKey, VerdictCache
from verimath.grading.decide import quick_verdict
from verimath.grading.extraction import EMPTY_TEXT, Extraction, extract_answer, reference_answer
from verimath.grading.normalize import (
    Answer,
    align_assignments,
    list_size,
    normalize_answer,
    strip_unit,
)
from verimath.grading.numeric import parse_number
from verimath.grading.pool import WorkerPool
from verimath.grading.rules import DatasetRules, rules_for
from verimath.grading.status import GradeResult, Status, Verdict

__all__ = ["DEFAULT_TIMEOUT", "GradeRequest", "Grader", "GraderStats"]

DEFAULT_TIMEOUT = 5.0
"""CPU seconds one comparison may take before its worker is killed."""
DEFAULT_CACHE_SIZE = 100_000
"""Verdicts kept in memory."""
DEFAULT_MEMORY_MB = 2048
"""Address-space cap of each worker process, in MiB."""

GradeRequest = tuple[object, object] | tuple[object, object, "str | None"]
"""``(gold, pred)`` or ``(gold, pred, dataset)``, as taken by ``Grader.grade_many``."""


@dataclass(frozen=True)
class GraderStats:
    """Counters of one Grader, for reports and benchmarks.

    ``pooled`` counts comparisons sent to workers; ``worker_cpu_seconds`` is the CPU time
    they reported for them (start-up excluded).
    """

    cache_hits: int
    cache_misses: int
    cache_size: int
    pooled: int
    worker_kills: int
    worker_cpu_seconds: float


@dataclass(frozen=True)
class _Pending:
    """A grade under way: decided already (``verdict``) or waiting on a worker (``future``)."""

    gold: str
    extraction: Extraction
    verdict: Verdict | None = None
    future: Future[Verdict] | None = None
    cached: bool = False

    def result(self) -> GradeResult:
        verdict = self.verdict if self.future is None else self.future.result()
        assert verdict is not None
        return GradeResult(verdict.status, self.gold, self.extraction, verdict.detail, self.cached)


class Grader:
    """Grades predictions against reference answers; owns the worker pool and the cache.

    Use it as a context manager (or call ``close``). It is safe to share between threads
    and to use from asyncio (``agrade``) at the same time. Workers start on the first
    comparison that needs one: answers decided by the quick rules never start them.

    Args:
        workers: worker processes (default: the CPUs this process may use).
        timeout: seconds per comparison; a worker that takes longer is killed and replaced.
        cache_size: verdicts remembered (0 disables the cache).
        memory_mb: address-space cap per worker.
        fast_paths: False sends every LaTeX/number comparison to the workers and skips the
            cache; only useful to measure the workers themselves.
    """

    def __init__(
        self,
        *,
        workers: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        cache_size: int = DEFAULT_CACHE_SIZE,
        memory_mb: int = DEFAULT_MEMORY_MB,
        fast_paths: bool = True,
    ) -> None:
        self._pool = WorkerPool(workers or _usable_cpus(), timeout, memory_mb)
        self._cache = VerdictCache(cache_size)
        self._inflight: dict[CacheKey, Future[Verdict]] = {}
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._pooled = 0
        self.fast_paths = fast_paths

    def __enter__(self) -> Grader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes. Further grading raises GradingError."""
        self._pool.close()

    @property
    def timeout(self) -> float:
        """Seconds one comparison may take."""
        return self._pool.timeout

    def grade(self, gold: object, pred: str | None, dataset: str | None = None) -> GradeResult:
        """Grade one prediction (model text or an extracted answer) against ``gold``."""
        return self._prepare(gold, pred, dataset).result()

    def grade_many(
        self, requests: Iterable[GradeRequest], dataset: str | None = None
    ) -> list[GradeResult]:
        """Grade many ``(gold, pred[, dataset])`` in parallel over the pool, in order.

        ``dataset`` applies to requests that do not name their own.
        """
        pending = [self._prepare(*_unpack(request, dataset)) for request in requests]
        return [item.result() for item in pending]

    async def agrade(
        self, gold: object, pred: str | None, dataset: str | None = None
    ) -> GradeResult:
        """``grade`` for asyncio: waits for a worker without blocking the event loop."""
        pending = self._prepare(gold, pred, dataset)
        if pending.future is not None:
            await asyncio.wrap_future(pending.future)
        return pending.result()

    def equivalent(self, a: str, b: str, dataset: str | None = None) -> bool:
        """Whether two candidate answers are the same answer (for grouping votes).

        Symmetric: the pair is put in a canonical order before the (asymmetric) comparison.
        Identical normalised answers never reach a worker, and verdicts are cached.
        Unparseable pairs and timeouts count as different answers.
        """
        rules = rules_for(dataset)
        first, second = (_answer_of(text, rules) for text in (a, b))
        if first.text > second.text:
            first, second = second, first
        verdict, future, _ = self._verdict(first, second, rules)
        if future is not None:
            verdict = future.result()
        assert verdict is not None
        return verdict.status is Status.CORRECT

    def stats(self) -> GraderStats:
        """Cache and pool counters so far."""
        return GraderStats(
            cache_hits=self._cache.hits,
            cache_misses=self._cache.misses,
            cache_size=len(self._cache),
            pooled=self._pooled,
            worker_kills=self._pool.kills,
            worker_cpu_seconds=self._pool.worker_cpu,
        )

    def _prepare(self, gold: object, pred: object, dataset: str | None) -> _Pending:
        rules = rules_for(dataset)
        gold_text = reference_answer(_reference_text(gold), rules)
        gold_answer = normalize_answer(gold_text, rules)
        numeric_gold = parse_number(gold_answer.text) is not None
        pred_text = _prediction_text(pred)
        parts = list_size(gold_answer)
        extraction = (
            EMPTY_TEXT
            if pred_text is None
            else extract_answer(
                pred_text, rules, allow_fallback=numeric_gold, join_boxes=parts > 1, parts=parts
            )
        )
        if extraction.answer is None:
            return _Pending(gold_text, extraction, Verdict(Status.UNPARSEABLE, "no answer found"))
        pred_answer = normalize_answer(extraction.answer, rules)
        verdict, future, cached = self._verdict(gold_answer, pred_answer, rules)
        return _Pending(gold_text, extraction, verdict, future, cached)

    def _verdict(
        self, gold: Answer, pred: Answer, rules: DatasetRules
    ) -> tuple[Verdict | None, Future[Verdict] | None, bool]:
        """A verdict now, or a future from the pool; and whether it came from the cache."""
        gold, pred = align_assignments(gold, strip_unit(pred, gold.unit))
        quick = quick_verdict(gold, pred, rules, shortcuts=self.fast_paths)
        if quick is not None:
            return quick, None, False
        if not self.fast_paths:
            return None, self._submit(gold.text, pred.text), False
        key: CacheKey = (rules.kind.value, gold.text, pred.text)
        cached = self._cache.get(key)
        if cached is not None:
            return cached, None, True
        return None, self._pooled_future(key), False

    def _pooled_future(self, key: CacheKey) -> Future[Verdict]:
        """The pool's future for ``key``; concurrent requests for one key share it."""
        with self._lock:
            future = self._inflight.get(key)
            if future is not None:
                return future
            future = self._submit(key[1], key[2])
            self._inflight[key] = future
        future.add_done_callback(lambda done: self._settle(key, done))
        return future

    def _submit(self, gold: str, pred: str) -> Future[Verdict]:
        future = self._pool.submit(gold, pred)
        with self._count_lock:  # not self._lock: _pooled_future calls this holding it
            self._pooled += 1
        return future

    def _settle(self, key: CacheKey, future: Future[Verdict]) -> None:
        with self._lock:
            self._inflight.pop(key, None)
        if not future.cancelled() and future.exception() is None:
            self._cache.put(key, future.result())


def _answer_of(text: str, rules: DatasetRules) -> Answer:
    return normalize_answer(reference_answer(text, rules), rules)


def _reference_text(gold: object) -> str:
    """Reference answers may arrive as JSON numbers; booleans and None are mistakes."""
    if isinstance(gold, str):
        return gold
    if isinstance(gold, int | float) and not isinstance(gold, bool):
        return repr(gold)
    raise GradingError(f"a reference answer must be a string or a number, not {gold!r}")


def _prediction_text(pred: object) -> str | None:
    """Predictions are text; a JSON number is accepted, anything else means "no answer"."""
    if isinstance(pred, str):
        return pred
    if isinstance(pred, int | float) and not isinstance(pred, bool):
        return repr(pred)
    return None


def _unpack(request: Sequence[object], dataset: str | None) -> tuple[object, object, str | None]:
    if len(request) == 3 and request[2] is not None:
        if not isinstance(request[2], str):
            raise GradingError(f"a dataset name must be text, not {request[2]!r}")
        return request[0], request[1], request[2]
    if len(request) in (2, 3):
        return request[0], request[1], dataset
    raise GradingError(f"grade_many takes (gold, pred) or (gold, pred, dataset), not {request!r}")


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
