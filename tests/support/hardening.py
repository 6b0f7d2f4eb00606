"""Helpers for the "nothing stranded" tests (issue 11): a service's environment, signed posts,
two days of punches for a few employees, and what pointage_resume should say about them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from service.domain.signature import sign
from service.http import paths
from simulator.company import EMPLOYEES
from simulator.deliveries import attendance_inserted
from simulator.harness import Database
from tests.support.webhook import SECRET as WEBHOOK_SECRET
from tests.support.webhook import TLS

QUICK = {"DB_CONNECT_TIMEOUT": "1", "DB_POOL_TIMEOUT": "1", "DB_STATEMENT_TIMEOUT": "2"}
DAYS = (datetime(2026, 11, 2), datetime(2026, 11, 3))


def env_for(database_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    return {
        "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": database_url,
        "SPOOL_DIR": str(workdir / "spool"),
        "DATA_DIR": str(workdir / "data"),
        **QUICK,
        **extra,
    }


def two_days(employees: int = 3) -> list[dict[str, Any]]:
    """In at 08:00, out at 17:00, on two days: 540 minutes a day for each employee."""
    return [
        attendance_inserted(employee, action, day.replace(hour=hour))
        for day in DAYS
        for employee in EMPLOYEES[:employees]
        for action, hour in ((0, 8), (1, 17))
    ]


def post(base_url: str, document: dict[str, Any], timeout: float = 30) -> httpx.Response:
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/json", "Timemoto-Signature": sign(body, WEBHOOK_SECRET)}
    return httpx.post(
        f"{base_url}{paths.WEBHOOK}", content=body, headers=headers, timeout=timeout, verify=TLS
    )


def verifier(base_url: str) -> httpx.Response:
    return httpx.get(f"{base_url}{paths.VERIFIER}", timeout=30)


def stored(database: Database, ids: list[str]) -> int:
    query = "SELECT count(*) FROM pointage_horodatage WHERE event_id = ANY($1::text[])"
    return int(database.value(query, ids))


def summaries(database: Database) -> list[tuple[str, str, int, int, int, int]]:
    rows = database.fetch(
        "SELECT timemoto_user_id, mois, minutes_travaillees, jours_travailles, nb_pointages,"
        " nb_anomalies FROM pointage_resume_mensuel ORDER BY timemoto_user_id"
    )
    return sorted(
        (
            r["timemoto_user_id"],
            str(r["mois"]),
            r["minutes_travaillees"],
            r["jours_travailles"],
            r["nb_pointages"],
            r["nb_anomalies"],
        )
        for r in rows
    )


def expected_summaries(employees: int = 3) -> list[tuple[str, str, int, int, int, int]]:
    return sorted((e.user_id, "2026-11-01", 1080, 2, 4, 0) for e in EMPLOYEES[:employees])
