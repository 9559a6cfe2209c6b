"""``RayExecutor``: the engine's samples run on Ray actors, results come back to the driver.

The driver's :class:`~verimath.engine.Engine` stays what it is on one machine (scheduling,
the run store, votes, progress); only ``execute`` goes to a worker actor. Each call goes to
the live worker with the lowest load (samples in flight over capacity).

A worker that dies (its process or its node) fails the samples it had in flight with a Ray
actor error: each is sent again to another live worker, so nothing is lost, and since a
sample is returned once, it is stored once. The dead worker is replaced by a new actor, which
Ray places wherever there is room. A sample under which workers die ``MAX_ATTEMPTS`` times,
or no live worker for ``WORKER_WAIT_S``, stops the run with :class:`WorkerLostError` (every
finished sample is saved; rerun to resume).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verimath.config import DEFAULT_CONCURRENCY, SolveOptions
from verimath.datasets import Problem
from verimath.distributed.cache import CachePump
from verimath.distributed.runtime import WorkerLostError, import_ray
from verimath.distributed.worker import SampleWorker, WorkerInfo, WorkerSpec
from verimath.errors import VerimathError
from verimath.grading import Status
from verimath.interpreter import Limits
from verimath.models import ModelSpec
from verimath.models.endpoints import EndpointStats
from verimath.trajectory import Trajectory

__all__ = ["DEFAULT_CPUS_PER_WORKER", "RayExecutor", "WorkerState"]

DEFAULT_CPUS_PER_WORKER = 1
"""CPUs a worker claims by default: a worker is one Python event loop (agent turns, grading)
with its own interpreter, about 250 MB; one per CPU keeps every core busy (on 2 cores, two
workers ran the GSM8K replay 30% faster than one). An in-process model (``local``) gets a
whole node per worker instead: one copy of the weights per node."""
MAX_ATTEMPTS = 4
"""Workers a single sample may see die before the run stops."""
WORKER_START_S = 600.0
"""Time a worker may take to start (a model file to load, a busy cluster to wait for)."""
WORKER_WAIT_S = 900.0
"""Time a sample waits for a live worker before the run stops."""
REPLACE_PAUSE_S = 1.0
_log = logging.getLogger(__name__)


@dataclass
class WorkerState:
    """The driver's view of one worker actor."""

    handle: Any
    capacity: int
    info: WorkerInfo | None = None
    in_flight: int = 0
    samples: int = 0
    deaths: int = 0
    alive: bool = True
    recovery: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def load(self) -> float:
        return self.in_flight / self.capacity


class RayExecutor:
    """Runs samples on Ray worker actors; implements the engine's ``SampleExecutor``.

    Build it with :meth:`start` inside :func:`~verimath.distributed.ray_runtime` and
    :meth:`close` it when done (:func:`~verimath.distributed.ray_executor` does all three).
    """

    def __init__(self, spec: WorkerSpec, cpus_per_worker: float, relay: Any = None) -> None:
        self.spec = spec
        self.cpus_per_worker = cpus_per_worker
        self.relay = relay
        self.workers: list[WorkerState] = []
        self.parallelism = 0
        """Samples in flight the workers take in all (set once they are started)."""
        self.reruns = 0
        """Samples sent again because the worker running them died."""
        self.cache: CachePump | None = None
        """The driver's end of the response cache, when there is one."""
        self._ray = import_ray()
        self._changed = asyncio.Event()

    @property
    def cache_hits(self) -> int:
        """Model calls answered from the run's response cache."""
        return self.cache.hits if self.cache is not None else 0

    @property
    def model_name(self) -> str:
        names = {w.info.model_name for w in self.workers if w.info is not None}
        return names.pop() if len(names) == 1 else str(self.spec.model)

    @classmethod
    async def start(
        cls,
        model: str | None,
        options: SolveOptions,
        *,
        limits: Limits | None = None,
        model_options: Mapping[str, Any] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        workers: int | None = None,
        cpus_per_worker: float | None = None,
        relay: Any = None,
    ) -> RayExecutor:
        """Start the workers and wait until every one is up.

        ``concurrency`` is run-wide (model calls in flight over all workers); ``workers``
        defaults to as many as the cluster's CPUs allow at ``cpus_per_worker`` each (default
        :data:`DEFAULT_CPUS_PER_WORKER`; the largest node's CPUs for a ``local`` model); each
        worker runs two cells per CPU it claims.
        """
        ray = import_ray()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        biggest = max((n["Resources"].get("CPU", 0.0) for n in nodes), default=0.0) or 1.0
        in_process = ModelSpec.parse(model).in_process
        cpus = cpus_per_worker or (biggest if in_process else DEFAULT_CPUS_PER_WORKER)
        count = workers or max(1, int(ray.cluster_resources().get("CPU", cpus) // cpus))
        spec = WorkerSpec(
            model,
            options,
            limits,
            tuple(sorted((model_options or {}).items())),
            concurrency=worker_share(concurrency, count),
            cell_slots=max(1, round(2 * cpus)),
        )
        executor = cls(spec, cpus, relay)
        executor.workers = [
            WorkerState(executor._spawn(), executor._capacity()) for _ in range(count)
        ]
        try:
            infos = await asyncio.gather(*(executor._ready(w.handle) for w in executor.workers))
        except BaseException:
            await executor.close()
            raise
        for worker, info in zip(executor.workers, infos, strict=True):
            worker.info = info
        executor.parallelism = sum(w.capacity for w in executor.workers)
        return executor

    def _capacity(self) -> int:
        return self.spec.concurrency + self.spec.cell_slots

    def _spawn(self) -> Any:
        actor = self._ray.remote(SampleWorker).options(
            num_cpus=self.cpus_per_worker,
            max_restarts=0,
            max_task_retries=0,
            max_concurrency=2 * self._capacity() + 8,
            scheduling_strategy="SPREAD",
        )
        return actor.remote(self.spec, self.relay)

    async def _ready(self, handle: Any) -> WorkerInfo:
        """The worker's info once it is up; the error that kept it from starting if it did
        not (ours as it was raised there, WorkerLostError for anything else)."""
        try:
            async with asyncio.timeout(WORKER_START_S):
                info: WorkerInfo = await handle.ready.remote()
                return info
        except TimeoutError:
            raise WorkerLostError(
                f"a Ray worker did not start within {WORKER_START_S:g} s; the cluster may "
                f"lack the {self.cpus_per_worker:g} CPUs a worker asks for (see 'ray status')"
            ) from None
        except self._ray.exceptions.RayError as exc:
            cause = _cause(exc)
            if isinstance(cause, VerimathError):
                raise cause from None
            raise WorkerLostError(
                f"a Ray worker failed to start: {_first_line(exc)}. Every node needs the same "
                "Python with verimath installed (and bubblewrap for its sandbox)."
            ) from exc

    async def execute(self, problem: Problem, index: int) -> tuple[Trajectory, Status]:
        """Sample ``index`` of ``problem`` on the least loaded live worker; again on another
        worker if that one dies."""
        lost = self._lost_errors()
        for _ in range(MAX_ATTEMPTS):
            worker = await self._choose()
            worker.in_flight += 1
            handle = worker.handle
            ref = handle.execute.remote(problem, index)
            try:
                result: tuple[Trajectory, Status] = await ref
            except lost as exc:
                self.reruns += 1
                self._died(worker, handle, exc)
                continue
            except self._ray.exceptions.RayTaskError as exc:
                raise _cause(exc) from None
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    self._ray.cancel(ref)
                raise
            finally:
                worker.in_flight -= 1
            worker.samples += 1
            return result
        raise WorkerLostError(
            f"Ray workers died {MAX_ATTEMPTS} times while running sample {index} of problem "
            f"{problem.id!r}; the finished samples are saved: check the workers' logs "
            "(memory, node failures) and rerun the same command to resume."
        )

    def _lost_errors(self) -> tuple[type[BaseException], ...]:
        errors = self._ray.exceptions
        names = ("RayActorError", "WorkerCrashedError", "ObjectLostError", "NodeDiedError")
        return tuple(getattr(errors, name) for name in names if hasattr(errors, name))

    async def _choose(self) -> WorkerState:
        deadline = time.monotonic() + WORKER_WAIT_S
        while True:
            live = [w for w in self.workers if w.alive]
            if live:
                return min(live, key=lambda w: (w.load, w.in_flight))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerLostError(
                    f"no Ray worker has been alive for {WORKER_WAIT_S:g} s; the finished "
                    "samples are saved: check the cluster ('ray status') and rerun to resume."
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._changed.wait()

    def _died(self, worker: WorkerState, handle: Any, exc: BaseException) -> None:
        """``handle`` failed a call: the worker is out until replaced (news of an actor
        already replaced changes nothing)."""
        if worker.alive and worker.handle is handle:
            worker.alive = False
            worker.deaths += 1
            _log.warning("Ray worker %s lost (%s); replacing it", _where(worker), _first_line(exc))
            worker.recovery = asyncio.create_task(self._replace(worker))

    async def _replace(self, worker: WorkerState) -> None:
        """A new actor in place of a dead one (a worker that answers after all is kept; one
        whose replacements keep failing to start stays out)."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(REPLACE_PAUSE_S):
                worker.info = await worker.handle.ready.remote()
            worker.alive = True
            self._changed.set()
            return
        for attempt in range(1, MAX_ATTEMPTS + 1):
            with contextlib.suppress(Exception):
                self._ray.kill(worker.handle, no_restart=True)
            worker.handle = self._spawn()
            try:
                worker.info = await self._ready(worker.handle)
            except VerimathError as exc:
                _log.warning("replacement Ray worker %d failed to start: %s", attempt, exc)
                await asyncio.sleep(REPLACE_PAUSE_S * attempt)
                continue
            worker.alive = True
            self._changed.set()
            return

    async def endpoint_stats(self) -> list[EndpointStats]:
        """Per-endpoint counters summed over the live workers."""
        reports = await asyncio.gather(
            *(w.handle.endpoint_stats.remote() for w in self.workers if w.alive),
            return_exceptions=True,
        )
        merged: dict[str, EndpointStats] = {}
        for report in reports:
            for s in report if isinstance(report, list) else []:
                seen = merged.get(s.base_url)
                merged[s.base_url] = s if seen is None else _add_stats(seen, s)
        return list(merged.values())

    def describe(self) -> str:
        """One line: live workers, their nodes, losses and reruns."""
        live = [w for w in self.workers if w.alive]
        nodes = {w.info.node_id for w in live if w.info is not None}
        deaths = sum(w.deaths for w in self.workers)
        return (
            f"ray: {len(live)} of {len(self.workers)} workers live on {len(nodes)} node(s), "
            f"{self.cpus_per_worker:g} CPUs and {self._capacity()} samples in flight each; "
            f"{deaths} worker(s) lost, {self.reruns} sample(s) rerun"
        )

    async def close(self) -> None:
        """Stop the workers (their interpreters and model connections first)."""
        for worker in self.workers:
            if worker.recovery is not None:
                worker.recovery.cancel()
        closing = [w.handle.close.remote() for w in self.workers if w.alive]
        with contextlib.suppress(Exception):
            async with asyncio.timeout(30):
                await asyncio.gather(*closing, return_exceptions=True)
        for worker in self.workers:
            with contextlib.suppress(Exception):
                self._ray.kill(worker.handle, no_restart=True)


def worker_share(total: int, workers: int) -> int:
    """Each worker's share of a run-wide limit (at least one)."""
    return max(1, math.ceil(total / workers))


def _cause(exc: BaseException) -> BaseException:
    """The error a worker raised, as it was raised there, when it is one of ours."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, VerimathError) else exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _where(worker: WorkerState) -> str:
    info = worker.info
    return f"pid {info.pid} on {info.hostname}" if info is not None else "(not started)"


def _add_stats(a: EndpointStats, b: EndpointStats) -> EndpointStats:
    return EndpointStats(
        a.base_url,
        a.requests + b.requests,
        a.failures + b.failures,
        a.in_flight + b.in_flight,
        a.out or b.out,
    )
