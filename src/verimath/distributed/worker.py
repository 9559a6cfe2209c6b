"""A sample worker: one Ray actor with its own interpreter, grader and model.

The worker builds its parts from what the driver sends (a model spec and options, the solve
options, the sandbox limits: all picklable) and runs samples with a :class:`LocalExecutor`,
exactly as the engine does on one machine. It writes nothing: finished samples go back to the
driver, which owns the run store.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from dataclasses import dataclass
from typing import Any

from verimath.config import SolveOptions
from verimath.datasets import Problem
from verimath.engine import LocalExecutor
from verimath.errors import VerimathError
from verimath.grading import Grader, Status
from verimath.interpreter import Interpreter, Limits
from verimath.models import ChatModel, resolve_model
from verimath.models.endpoints import EndpointStats, endpoint_stats
from verimath.trajectory import Trajectory

__all__ = ["SampleWorker", "WorkerInfo", "WorkerSpec"]


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker is built from (sent to every worker, restarted ones included)."""

    model: str | None
    """The model spec, resolved on the worker (``resolve_model``)."""
    options: SolveOptions
    limits: Limits | None = None
    model_options: tuple[tuple[str, Any], ...] = ()
    """Keyword options of the model backend (e.g. a ``RetryPolicy``)."""
    concurrency: int = 4
    """Model calls in flight at once on this worker."""
    cell_slots: int = 2
    """Code cells running at once on this worker."""


@dataclass(frozen=True)
class WorkerInfo:
    """Where a worker runs and what it runs."""

    node_id: str
    hostname: str
    pid: int
    model_name: str
    parallelism: int


class SampleWorker:
    """Runs samples for the driver (used as an async Ray actor)."""

    def __init__(self, spec: WorkerSpec, relay: Any = None) -> None:
        # an error of ours is kept for ready() to raise: Ray would keep only its text
        self._failure: VerimathError | None = None
        try:
            self._build(spec, relay)
        except VerimathError as exc:
            self._failure = exc

    def _build(self, spec: WorkerSpec, relay: Any) -> None:
        model: ChatModel = resolve_model(spec.model, **dict(spec.model_options))
        if relay is not None:
            from verimath.distributed.cache import RelayCachedModel

            model = RelayCachedModel(model, relay)
        self.model = model
        self.interpreter = Interpreter(spec.limits).start()
        self.grader = Grader()
        self.executor = LocalExecutor(
            model,
            self.interpreter,
            self.grader,
            spec.options,
            store=None,
            concurrency=spec.concurrency,
            cell_slots=spec.cell_slots,
        )

    async def ready(self) -> WorkerInfo:
        """Who and where this worker is, once it is up; the error that kept it from
        starting, if one did."""
        import ray

        if self._failure is not None:
            raise self._failure
        return WorkerInfo(
            node_id=ray.get_runtime_context().get_node_id(),
            hostname=socket.gethostname(),
            pid=os.getpid(),
            model_name=self.model.name,
            parallelism=self.executor.parallelism,
        )

    async def execute(self, problem: Problem, index: int) -> tuple[Trajectory, Status]:
        """Sample ``index`` of ``problem``, run and graded.

        The raw request/response of each turn stay here: the driver stores neither (its
        response cache has its own copy), and they are most of a trajectory's bytes.
        """
        trajectory, grade = await self.executor.execute(problem, index)
        turns = tuple(dataclasses.replace(t, request=None, response=None) for t in trajectory.turns)
        return dataclasses.replace(trajectory, turns=turns), grade

    async def endpoint_stats(self) -> list[EndpointStats]:
        return endpoint_stats(self.model)

    async def close(self) -> None:
        """Release the model, the interpreter and the grader."""
        if self._failure is not None:
            return
        await self.model.aclose()
        self.interpreter.close()
        self.grader.close()
