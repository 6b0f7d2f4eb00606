"""What operations cost: deliveries per second with the log line and metrics on, /ready and
/metrics latency, and how long SIGTERM takes to end an idle service.

`python -m bench operations` (or `make bench`); prints numbers, fails only if something errs.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from service.db.embedded import temporary_embedded
from service.domain.signature import sign
from service.http import paths
from simulator.company import EMPLOYEES
from simulator.deliveries import attendance_inserted
from simulator.harness import ServiceProcess

SECRET = "bench-secret"  # noqa: S105 - a throwaway service's secret
DELIVERIES = 400
THREADS = 8


def _deliver(client: httpx.Client, body: bytes) -> int:
    headers = {"Content-Type": "application/json", "Timemoto-Signature": sign(body, SECRET)}
    return client.post(paths.WEBHOOK, content=body, headers=headers).status_code


def _latencies_ms(client: httpx.Client, path: str, times: int = 30) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="bench-operations-") as tmp,
        temporary_embedded("bench-operations-pg-") as url,
    ):
        work = Path(tmp)
        env = {
            "TIMEMOTO_WEBHOOK_SECRET": SECRET,
            "DATABASE_URL": url,
            "DATA_DIR": str(work / "data"),
            "SPOOL_DIR": str(work / "data" / "spool"),
            "LOG_FORMAT": "json",
        }
        service = ServiceProcess(work / "service", env).start()
        try:
            bodies = [_body(i) for i in range(DELIVERIES)]
            with httpx.Client(base_url=service.base_url, timeout=30) as client:
                started = time.perf_counter()
                with ThreadPoolExecutor(THREADS) as pool:
                    codes = list(pool.map(lambda b: _deliver(client, b), bodies))
                elapsed = time.perf_counter() - started
                ready = _latencies_ms(client, "/ready")
                scrape = _latencies_ms(client, "/metrics")
                metrics = client.get("/metrics").text
        finally:
            stop_started = time.perf_counter()
            code = service.stop()
            stop_s = time.perf_counter() - stop_started
        lines = sum('"webhook delivery"' in line for line in service.log().splitlines())
    count, total = _histogram(metrics)
    print(
        f"deliveries: {DELIVERIES} by {THREADS} threads in {elapsed:.2f} s "
        f"= {DELIVERIES / elapsed:.0f}/s; answers {sorted(set(codes))}; log lines {lines}"
    )
    mean_ms = total / count * 1000
    print(f"server-side delivery time (histogram): mean {mean_ms:.1f} ms over {count:.0f}")
    print(f"/ready: median {statistics.median(ready):.1f} ms, max {max(ready):.1f} ms")
    print(f"/metrics: median {statistics.median(scrape):.1f} ms, max {max(scrape):.1f} ms")
    print(f"SIGTERM to exit (idle): {stop_s:.2f} s, exit code {code}")
    ok = set(codes) == {200} and lines == DELIVERIES and count == DELIVERIES
    return 0 if ok else 1


def _body(index: int) -> bytes:
    employee = EMPLOYEES[index % len(EMPLOYEES)]
    local_time = datetime(2026, 11, 2, 8) + timedelta(minutes=index)
    return json.dumps(attendance_inserted(employee, index % 4, local_time)).encode()


def _histogram(text: str) -> tuple[float, float]:
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("timemoto_delivery_duration_seconds")
    }
    return values["timemoto_delivery_duration_seconds_count"], values[
        "timemoto_delivery_duration_seconds_sum"
    ]
