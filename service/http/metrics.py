"""Prometheus metrics at `GET /metrics`: deliveries, their duration, the spool, the database.

Each application has its own registry (no process-wide state), handed to handlers as `metrics`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from litestar import Response, get
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from service.http import paths
from service.runtime import Runtime

# Seconds; a delivery normally takes milliseconds, the database timeouts bound the slow end.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.deliveries = Counter(
            "timemoto_deliveries",
            "Webhook deliveries answered, by answer status and HTTP status.",
            ["answer", "http_status"],
            registry=self.registry,
        )
        self.delivery_duration = Histogram(
            "timemoto_delivery_duration_seconds",
            "Time to answer a webhook delivery, body reading included.",
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.spool_pending = Gauge(
            "timemoto_spool_pending",
            "Acknowledged deliveries waiting in the spool for the database.",
            registry=self.registry,
        )
        self.database_up = Gauge(
            "timemoto_database_up",
            "1 while the circuit breaker believes the database takes writes, else 0.",
            registry=self.registry,
        )

        # Told of each delivery answered (the alert monitor counts them: CONTRACT §6).
        self.listeners: list[Callable[[str, int], None]] = []

    def observe_delivery(self, answer: str, http_status: int, seconds: float) -> None:
        self.deliveries.labels(answer=answer, http_status=str(http_status)).inc()
        self.delivery_duration.observe(seconds)
        for listener in self.listeners:
            listener(answer, http_status)


async def refresh(metrics: Metrics, runtime: Runtime) -> None:
    """Bring the gauges up to date before a scrape (the spool count runs off the event loop)."""
    metrics.spool_pending.set(await asyncio.to_thread(runtime.spool.pending))
    metrics.database_up.set(1 if runtime.database_up else 0)


@get(paths.METRICS, media_type=CONTENT_TYPE_LATEST)
async def prometheus_metrics(metrics: Metrics, runtime: Runtime) -> Response[bytes]:
    """Prometheus text exposition format."""
    await refresh(metrics, runtime)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
