"""Prometheus metrics at `GET /metrics`: deliveries, their duration, the spool, the database.

Each service has its own registry (no process-wide state), built once by the composition root
(service/runtime.py) and handed to handlers as `metrics`. The webhook counts its deliveries; the
other series are read from the parts they describe at each scrape (`PartsCollector`), so nothing
here keeps a copy of their state.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

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
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.alerts.monitor import AlertMonitor
from service.domain.diagnosis import Cause
from service.http import alert_metrics, paths
from service.operations.verification import spool_state
from service.outbox.spool import Spool
from service.recovery.recovery import Recovery
from service.server import connections

CAUSES = [cause.value for cause in Cause]
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
        self._delivery_counters: dict[tuple[str, int], Counter] = {}

    def watch(self, spool: Spool, recovery: Recovery, monitor: AlertMonitor) -> None:
        """Read these parts at each scrape (once, by the composition root)."""
        self.registry.register(PartsCollector(spool, recovery))
        alert_metrics.register(self.registry, monitor)

    def observe_delivery(self, answer: str, http_status: int, seconds: float) -> None:
        counter = self._delivery_counters.get((answer, http_status))
        if counter is None:  # `labels()` checks and locks on each call: once per pair is enough
            counter = self.deliveries.labels(answer=answer, http_status=str(http_status))
            self._delivery_counters[answer, http_status] = counter
        counter.inc()
        self.delivery_duration.observe(seconds)


class PartsCollector(Collector):
    """The spool, the database's state and the connections, as they are when scraped (the
    spool is read from disk: scrapes run off the event loop)."""

    def __init__(self, spool: Spool, recovery: Recovery) -> None:
        self._spool = spool
        self._recovery = recovery

    def collect(self) -> Iterator[Metric]:
        state = spool_state(self._spool)
        yield GaugeMetricFamily(
            "timemoto_spool_pending",
            "Acknowledged deliveries waiting in the spool for the database.",
            value=state.pending,
        )
        yield GaugeMetricFamily(
            "timemoto_spool_stranded",
            "Deliveries spooled for another database than DATABASE_URL's: they drain only after "
            "`python -m service spool retarget --yes` (or with DATABASE_URL pointing back there).",
            value=state.stranded,
        )
        yield GaugeMetricFamily(
            "timemoto_spool_oldest_pending_seconds",
            "Age of the oldest delivery waiting in the spool for this database (0 when none).",
            value=state.oldest_pending_s or 0,
        )
        yield GaugeMetricFamily(
            "timemoto_quarantine_deliveries",
            "Signed but invalid deliveries kept in the quarantine.",
            value=state.quarantined,
        )
        yield CounterMetricFamily(
            "timemoto_quarantine_evicted",
            "Quarantined deliveries evicted, oldest first, by QUARANTINE_MAX_COUNT or _BYTES.",
            value=self._spool.evicted,
        )
        yield GaugeMetricFamily(
            "timemoto_database_up",
            "1 while the circuit breaker believes the database takes writes, else 0.",
            value=1 if self._recovery.database_up else 0,
        )
        cause = GaugeMetricFamily(
            "timemoto_database_cause",
            "1 for why the database takes no deliveries now (docs/contract.md §8), 0 for the "
            "other causes; all 0 while it takes them.",
            labels=["cause"],
        )
        now = self._recovery.cause
        for code in CAUSES:
            cause.add_metric([code], 1.0 if now is not None and now.code == code else 0.0)
        yield cause
        yield GaugeMetricFamily(
            "timemoto_http_connections_open",
            "HTTP connections open now (the guarded protocols of service.server.connections).",
            value=connections.open_count(),
        )
        closed = CounterMetricFamily(
            "timemoto_http_connections_closed",
            "Connections the service closed without a whole request: `shed` to make room for "
            "new ones (MAX_CONNECTIONS), `header_timeout` (HEADER_TIMEOUT), `body_timeout` "
            "(BODY_TIMEOUT), `headers_too_large` (answered 431).",
            labels=["reason"],
        )
        for reason, count in sorted(connections.closed_counts().items()):
            closed.add_metric([reason], count)
        yield closed


@get(paths.METRICS, media_type=CONTENT_TYPE_LATEST)
async def prometheus_metrics(metrics: NamedDependency[Metrics]) -> Response[bytes]:
    """Prometheus text exposition format."""
    body = await asyncio.to_thread(generate_latest, metrics.registry)  # the spool is on disk
    return Response(body, media_type=CONTENT_TYPE_LATEST)
