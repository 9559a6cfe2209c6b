"""Samples on a Ray cluster (extra ``ray``): ``verimath eval ... --ray [ADDRESS]``.

    with ray_runtime("auto"):
        async with ray_executor("openai:m@http://a/v1,http://b/v1", options, store=store) as ex:
            await Engine(ex, grader, store, options).run(problems)

The driver keeps the engine, the run store (nothing else writes it), the votes and the
progress; Ray worker actors, each with its own interpreter, grader and model, run the samples
(:mod:`.executor`, :mod:`.worker`). The response cache stays in the driver's store and is
reached through a relay actor (:mod:`.cache`). Ray is imported only when used.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from verimath.config import DEFAULT_CONCURRENCY, SolveOptions
from verimath.distributed.executor import DEFAULT_CPUS_PER_WORKER, RayExecutor
from verimath.distributed.runtime import LOCAL, WorkerLostError, import_ray, ray_runtime
from verimath.interpreter import Limits
from verimath.store import RunStore

__all__ = [
    "DEFAULT_CPUS_PER_WORKER",
    "LOCAL",
    "RayExecutor",
    "WorkerLostError",
    "import_ray",
    "ray_executor",
    "ray_runtime",
]


@contextlib.asynccontextmanager
async def ray_executor(
    model: str | None,
    options: SolveOptions,
    *,
    limits: Limits | None = None,
    model_options: Mapping[str, Any] | None = None,
    store: RunStore | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    workers: int | None = None,
    cpus_per_worker: float | None = None,
) -> AsyncIterator[RayExecutor]:
    """A started :class:`RayExecutor` (Ray must be initialised: :func:`ray_runtime`).

    With ``store``, model responses are cached in it as on one machine (``cache_hits`` on
    the executor counts the calls it saved); without, workers call the model every time.
    """
    from verimath.distributed.cache import CachePump, CacheRelay

    ray = import_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    relay = pump = None
    if store is not None:
        here = ray.get_runtime_context().get_node_id()
        placement = NodeAffinitySchedulingStrategy(here, soft=True)
        relay = (
            ray.remote(CacheRelay)
            .options(num_cpus=0, max_concurrency=10_000, scheduling_strategy=placement)
            .remote()
        )
        pump = CachePump(relay, store)
        pump.start()
    try:
        executor = await RayExecutor.start(
            model,
            options,
            limits=limits,
            model_options=model_options,
            concurrency=concurrency,
            workers=workers,
            cpus_per_worker=cpus_per_worker,
            relay=relay,
        )
        executor.cache = pump
        try:
            yield executor
        finally:
            await executor.close()
    finally:
        if pump is not None:
            await pump.stop()
        if relay is not None:
            with contextlib.suppress(Exception):
                ray.kill(relay)
