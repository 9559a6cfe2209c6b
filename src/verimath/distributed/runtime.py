"""Ray for a run: a local runtime started for it, or an existing cluster joined."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import socket
from collections.abc import Iterator
from types import ModuleType

from verimath.errors import ConfigError, WorkerLostError

__all__ = ["LOCAL", "WorkerLostError", "import_ray", "ray_runtime"]


LOCAL = "local"
"""The address that starts a local Ray runtime (what ``--ray`` without an address means)."""
INSTALL_HINT = "pip install 'verimath[ray]'"


def import_ray() -> ModuleType:
    """The ``ray`` module; ConfigError naming the extra to install when it is missing."""
    try:
        return importlib.import_module("ray")
    except ImportError as exc:
        raise ConfigError(
            f"running on Ray needs the ray package, not installed: {INSTALL_HINT}"
        ) from exc


PROBE_TIMEOUT_S = 10.0
"""How long joining a cluster waits for its address to accept a connection (Ray itself keeps
trying for minutes, then names another address)."""


def _check_answers(address: str | None) -> None:
    """ConfigError naming ``address`` when nothing accepts a TCP connection there (``auto``,
    which Ray resolves itself, is not probed)."""
    if address is None or address == "auto":
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return  # Ray reads it (and names what is wrong with it)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), PROBE_TIMEOUT_S):
            return
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
    raise ConfigError(
        f"no Ray cluster answers at {address} ({reason}); start one there with 'ray start "
        "--head', pass the address it prints (or 'auto'), or use --ray without an address "
        "for a local runtime"
    )


@contextlib.contextmanager
def ray_runtime(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[None]:
    """Ray initialised for the block, and shut down after it if it was started here.

    ``None`` or ``"local"``: a new local runtime on this machine (``num_cpus`` CPUs, default
    all; no dashboard; no usage statistics; workers' logs are not forwarded). Any other
    address joins that cluster: ``auto``, ``HOST:6379`` or ``ray://HOST:10001``. A runtime
    already initialised in this process is used as it is and left running.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield
        return
    # offline machines and CI: never try to phone home
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address in (None, LOCAL):
            ray.init(
                address=LOCAL,
                num_cpus=num_cpus or os.cpu_count() or 1,
                include_dashboard=False,
                **quiet,
            )
        else:
            _check_answers(address)
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "a local Ray runtime" if address in (None, LOCAL) else f"the Ray cluster {address}"
        raise ConfigError(
            f"could not start or join {where}: {exc}. Start a cluster with 'ray start --head' "
            "and pass its address (or 'auto'), or use --ray without an address for a local one."
        ) from exc
    try:
        yield
    finally:
        ray.shutdown()
