"""One Ray runtime for these tests: a real local cluster (head node, 2 CPUs) that tests can add
nodes to and remove them from, stopped after the last of them (so that nothing of Ray's runs
beside the rest of the suite)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.shared import SHARED_DATA

SHARED = SHARED_DATA
MATHCODER_GSM8K = SHARED / "transcripts" / "mathcoder" / "MathCoder-CL-34b" / "GSM8K"
REPLAY = f"replay:{MATHCODER_GSM8K}"
HEAD_CPUS = 2


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        message = "the ray tests need Ray: pip install 'verimath[ray]'"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run them)")
        pytest.skip(message)
    return ray


@pytest.fixture(scope="package")
def ray_cluster() -> Iterator[Any]:
    """A local Ray cluster, connected; ``--ray`` and ``ray_runtime`` reuse it."""
    ray = _import_ray()
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": HEAD_CPUS, "include_dashboard": False},
    )
    ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="session")
def replay_spec() -> str:
    if not MATHCODER_GSM8K.is_dir():
        pytest.fail(f"the recorded transcripts are missing: expected them at {MATHCODER_GSM8K}")
    return REPLAY
