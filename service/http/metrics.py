"""Prometheus metrics at `GET /metrics`: deliveries, their duration, the spool, the database.

Each application has its own registry (no process-wide state), handed to handlers as `metrics`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from litestar import Response, get
from litestar.di import NamedDependency
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from service.http import paths
from service.http.verifier import spool_state
from service.runtime import Runtime
from service.server import connections

# Seconds; a delivery normally takes milliseconds, the database timeouts bound the slow end.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        # Under `uvicorn --workers N` each worker answers its own scrapes: this says which.
        Info("timemoto_worker", "The worker process that answered.", registry=self.registry).info(
            {"pid": str(os.getpid())}
        )
        self.deliveries = Counter(
            "timemoto_deliveries",
            "Webhook deliveries answered, by answer status and HTTP status.",
            ["answer", "http_status"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "timemoto_deliveries_in_flight",
            "Webhook deliveries being read or written now (not yet answered).",
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
        self.spool_stranded = Gauge(
            "timemoto_spool_stranded",
            "Deliveries spooled for another database than DATABASE_URL's: they drain only after "
            "`python -m service spool retarget --yes` (or with DATABASE_URL pointing back there).",
            registry=self.registry,
        )
        self.spool_oldest = Gauge(
            "timemoto_spool_oldest_pending_seconds",
            "Age of the oldest delivery waiting in the spool for this database (0 when none).",
            registry=self.registry,
        )
        self.quarantined = Gauge(
            "timemoto_quarantine_deliveries",
            "Signed but invalid deliveries kept in the quarantine.",
            registry=self.registry,
        )
        self.quarantine_evicted = Counter(
            "timemoto_quarantine_evicted",
            "Quarantined deliveries evicted, oldest first, by QUARANTINE_MAX_COUNT or _BYTES.",
            registry=self.registry,
        )
        self._evicted_seen = 0
        self.connections_open = Gauge(
            "timemoto_http_connections_open",
            "HTTP connections open now (the guarded protocols of service.server.connections).",
            registry=self.registry,
        )
        self.connections_closed = Counter(
            "timemoto_http_connections_closed",
            "Connections the service closed without a whole request: `shed` to make room for "
            "new ones (MAX_CONNECTIONS), `header_timeout` (HEADER_TIMEOUT), `body_timeout` "
            "(BODY_TIMEOUT), `headers_too_large` (answered 431).",
            ["reason"],
            registry=self.registry,
        )
        self._closed_seen: dict[str, int] = {}
        self.database_up = Gauge(
            "timemoto_database_up",
            "1 while the circuit breaker believes the database takes writes, else 0.",
            registry=self.registry,
        )

        self._delivery_counters: dict[tuple[str, int], Counter] = {}
        # Told of each delivery answered (the alert monitor counts them: CONTRACT §6).
        self.listeners: list[Callable[[str, int], None]] = []

    def observe_delivery(self, answer: str, http_status: int, seconds: float) -> None:
        counter = self._delivery_counters.get((answer, http_status))
        if counter is None:  # `labels()` checks and locks on each call: once per pair is enough
            counter = self.deliveries.labels(answer=answer, http_status=str(http_status))
            self._delivery_counters[answer, http_status] = counter
        counter.inc()
        self.delivery_duration.observe(seconds)
        for listener in self.listeners:
            listener(answer, http_status)


async def refresh(metrics: Metrics, runtime: Runtime) -> None:
    """Bring the gauges up to date before a scrape (the spool count runs off the event loop)."""
    state = await asyncio.to_thread(spool_state, runtime.spool)
    metrics.spool_pending.set(state.pending)
    metrics.spool_stranded.set(state.stranded)
    metrics.spool_oldest.set(state.oldest_pending_s or 0)
    metrics.quarantined.set(state.quarantined)
    evicted = runtime.spool.evicted
    if evicted > metrics._evicted_seen:
        metrics.quarantine_evicted.inc(evicted - metrics._evicted_seen)
        metrics._evicted_seen = evicted
    metrics.database_up.set(1 if runtime.database_up else 0)
    metrics.connections_open.set(connections.open_count())
    for reason, count in connections.closed_counts().items():
        seen = metrics._closed_seen.get(reason, 0)
        metrics.connections_closed.labels(reason=reason).inc(count - seen)
        metrics._closed_seen[reason] = count


@get(paths.METRICS, media_type=CONTENT_TYPE_LATEST)
async def prometheus_metrics(
    metrics: NamedDependency[Metrics], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """Prometheus text exposition format."""
    await refresh(metrics, runtime)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
