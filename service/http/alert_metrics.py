"""The alerts' series on `/metrics` (docs/contract.md §6), read from the monitor at each scrape:

- `timemoto_alert{name}`: 1 while the alert is raised, else 0 (one series per alert);
- `timemoto_silence_working_seconds`: working time (WORKING_HOURS) since the last delivery;
- `timemoto_last_delivery_timestamp_seconds`: when the last delivery was acknowledged (Unix time).

deploy/prometheus-rules.yml alerts from these and from the counters and gauges beside them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.alerts.monitor import AlertMonitor
from service.domain.alerts import ALERT_NAMES


class AlertCollector(Collector):
    def __init__(self, monitor: AlertMonitor) -> None:
        self._monitor = monitor

    def collect(self) -> Iterator[Metric]:
        monitor = self._monitor
        alert = GaugeMetricFamily(
            "timemoto_alert", "1 while the operators' alert is raised, else 0.", labels=["name"]
        )
        for name in ALERT_NAMES:
            alert.add_metric([name], 1.0 if monitor.book.is_raised(name) else 0.0)
        yield alert
        now = monitor.clock()
        since = monitor.last_delivery or monitor.started_at
        yield GaugeMetricFamily(
            "timemoto_silence_working_seconds",
            "Working time (WORKING_HOURS in WORKING_TIMEZONE) since the last delivery.",
            value=monitor.thresholds.working_hours.seconds_between(since, now),
        )
        last = monitor.last_delivery
        if last is not None:
            yield GaugeMetricFamily(
                "timemoto_last_delivery_timestamp_seconds",
                "When the last delivery was acknowledged (Unix time).",
                value=last.timestamp(),
            )


def register(registry: CollectorRegistry, monitor: AlertMonitor) -> None:
    registry.register(AlertCollector(monitor))
