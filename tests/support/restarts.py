"""Deliveries sent while the service restarts: how many were refused, how many acknowledged, and
whether every acknowledged one reached `pointage` (tests/system/test_restarts.py)."""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from service.domain.signature import sign
from service.http import paths
from simulator.harness import Database, wait_until
from tests.support.samples import sample_delivery
from tests.support.webhook import TLS


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc; no psutil needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def fresh_delivery() -> tuple[str, bytes]:
    document = sample_delivery()
    document["id"] = f"tm_{uuid.uuid4().hex}"
    document["data"]["userId"] = str(uuid.uuid4())  # one punch per user: no trigger contention
    return document["id"], json.dumps(document).encode()


@dataclass
class Outcome:
    acknowledged: list[str] = field(default_factory=list)
    refused: int = 0  # connection refused: nobody listened
    failed: int = 0  # any other transport error (reset, timeout)
    other: dict[int, int] = field(default_factory=dict)  # non-2xx answers, by status

    @property
    def sent(self) -> int:
        return len(self.acknowledged) + self.refused + self.failed + sum(self.other.values())


class Load:
    """`total` signed deliveries from `threads` threads at about `rate` per second, one attempt
    each (no retry: a refused connection is counted, not hidden)."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        total: int = 500,
        threads: int = 8,
        verify: ssl.SSLContext = TLS,  # for HTTPS: a context trusting a self-signed certificate
    ) -> None:
        self.base_url = base_url
        self.verify = verify
        self.secret = secret
        self.total = total
        self.threads = threads
        self.outcome = Outcome()
        self._lock = threading.Lock()
        self._next = 0
        self._workers = [threading.Thread(target=self._run) for _ in range(threads)]
        self.interval = 0.0

    def _take(self) -> bool:
        with self._lock:
            if self._next >= self.total:
                return False
            self._next += 1
            return True

    def _run(self) -> None:
        # A new connection per delivery, as after a restart: each one meets the listener anew.
        while self._take():
            event_id, body = fresh_delivery()
            headers = {
                "Content-Type": "application/json",
                "Timemoto-Signature": sign(body, self.secret),
            }
            try:
                answer = httpx.post(
                    f"{self.base_url}{paths.WEBHOOK}",
                    content=body,
                    headers=headers,
                    timeout=60,
                    verify=self.verify,
                )
            except httpx.ConnectError as exc:
                with self._lock:
                    if "refused" in str(exc).lower() or isinstance(
                        exc.__cause__, ConnectionRefusedError
                    ):
                        self.outcome.refused += 1
                    else:
                        self.outcome.failed += 1
            except httpx.TransportError:
                with self._lock:
                    self.outcome.failed += 1
            else:
                with self._lock:
                    if answer.status_code in (200, 202):
                        self.outcome.acknowledged.append(event_id)
                    else:
                        self.outcome.other[answer.status_code] = (
                            self.outcome.other.get(answer.status_code, 0) + 1
                        )
            if self.interval:
                time.sleep(self.interval)

    def start(self, seconds: float) -> Load:
        """Spread the deliveries over about `seconds`."""
        self.interval = seconds * self.threads / self.total
        for worker in self._workers:
            worker.start()
        return self

    def join(self, timeout: float = 180) -> Outcome:
        for worker in self._workers:
            worker.join(timeout)
        return self.outcome

    @property
    def progress(self) -> int:
        with self._lock:
            return self._next


def lost(database: Database, acknowledged: list[str], timeout: float = 60) -> list[str]:
    """The acknowledged deliveries not in `pointage` once the spool had time to drain."""
    missing: list[str] = list(acknowledged)

    def all_there() -> bool:
        nonlocal missing
        present = {
            row[0]
            for row in database.fetch(
                "SELECT event_id FROM pointage_horodatage WHERE event_id = ANY($1::text[])", missing
            )
        }
        missing = [event_id for event_id in missing if event_id not in present]
        return not missing

    wait_until(all_there, timeout, interval=0.5)
    return missing


def environment(base: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}, **base}
