"""The server's Prometheus metrics, in a registry of its own (no process-wide state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ServeMetrics:
    """Sessions live, cells by status (their rate is cells/s), cell latency, rejections by
    reason and infrastructure failures by kind."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.sessions_live = Gauge(
            "verimath_sessions_live", "Sessions open now.", registry=self.registry
        )
        self.cells_queued = Gauge(
            "verimath_cells_queued", "Cells running or waiting for a slot.", registry=self.registry
        )
        self.cells = Counter(
            "verimath_cells",
            "Cells run, by the code's outcome.",
            ["status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "verimath_cell_seconds",
            "Wall time of a cell in the server, queueing included.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rejections = Counter(
            "verimath_rejections", "Requests refused, by kind.", ["kind"], registry=self.registry
        )
        self.failures = Counter(
            "verimath_failures",
            "Infrastructure failures (not the code's own errors), by kind.",
            ["kind"],
            registry=self.registry,
        )

    def text(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
