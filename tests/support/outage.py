"""A service reached through the fault-injecting proxy, with short database timeouts."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

from conftest import WEBHOOK_SECRET
from service.domain.signature import sign
from simulator.harness import ServiceProcess
from tests.support.samples import sample_delivery

WEBHOOK = "/api/webhooks/timemoto/pointage"
VERIFIER = "/api/database/verifier-tables-pointage"

# Short waits so that a failing database costs the suite little.
QUICK_TIMEOUTS = {"DB_CONNECT_TIMEOUT": "1", "DB_POOL_TIMEOUT": "1", "DB_STATEMENT_TIMEOUT": "2"}


def service_env(database_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    return {
        "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": database_url,
        "SPOOL_DIR": str(workdir / "spool"),
        "DATA_DIR": str(workdir / "data"),
        **QUICK_TIMEOUTS,
        **extra,
    }


def a_delivery(**changes: Any) -> dict[str, Any]:
    document = sample_delivery()
    document["id"] = f"tm_{uuid.uuid4().hex}"
    document.update(changes)
    return document


def post(service: ServiceProcess, document: dict[str, Any]) -> httpx.Response:
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/json", "Timemoto-Signature": sign(body, WEBHOOK_SECRET)}
    return httpx.post(f"{service.base_url}{WEBHOOK}", content=body, headers=headers, timeout=30)


def verifier(service: ServiceProcess) -> httpx.Response:
    return httpx.get(f"{service.base_url}{VERIFIER}", timeout=30)
