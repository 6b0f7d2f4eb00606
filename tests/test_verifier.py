"""The verifier endpoint and `python -m service db verify|apply`, on a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from conftest import WEBHOOK_SECRET
from service.db.schema import EXPECTED_OBJECTS
from simulator.harness import Database, ServiceProcess
from tests.support.databases import fresh_database

PATH = "/api/database/verifier-tables-pointage"


def cli(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET}
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_everything_in_place_is_ok(service: ServiceProcess, database_url: str) -> None:
    response = httpx.get(f"{service.base_url}{PATH}", timeout=10)
    assert response.status_code == 200
    answer = response.json()
    assert answer["ok"] is True
    assert answer["database"]["reachable"] is True
    assert answer["database"]["error"] is None
    assert answer["database"]["latency_ms"] >= 0
    assert [(o["name"], o["kind"]) for o in answer["objects"]] == list(EXPECTED_OBJECTS)
    assert all(o["exists"] for o in answer["objects"])
    assert answer["missing"] == []
    assert answer["spool"] == {
        "pending": 0,
        "stranded": 0,
        "quarantined": 0,
        "oldest_pending_s": None,
    }
    assert "postgresql://" not in response.text  # never a connection string


def test_a_dropped_object_is_named_missing_and_answers_503(
    service: ServiceProcess, database: Database
) -> None:
    database.execute("DROP VIEW v_pointage_detail")
    try:
        response = httpx.get(f"{service.base_url}{PATH}", timeout=10)
        assert response.status_code == 503
        assert response.json()["ok"] is False
        assert response.json()["missing"] == ["v_pointage_detail"]
        assert response.json()["database"]["reachable"] is True
    finally:
        from service.db.schema import schema_sql

        database.execute(schema_sql())


def test_cli_verify_then_apply_then_verify(postgres_server_url: str, tmp_path: Path) -> None:
    with fresh_database(postgres_server_url, "cli") as url:
        before = cli("db", "verify", database_url=url, cwd=tmp_path)
        assert before.returncode == 1
        assert json.loads(before.stdout)["missing"] == [name for name, _ in EXPECTED_OBJECTS]
        applied = cli("db", "apply", database_url=url, cwd=tmp_path)
        assert applied.returncode == 0, applied.stderr
        after = cli("db", "verify", database_url=url, cwd=tmp_path)
        assert after.returncode == 0, after.stdout
        assert json.loads(after.stdout)["ok"] is True


def test_cli_verify_of_an_unreachable_database_fails_without_leaking_the_password(
    tmp_path: Path,
) -> None:
    url = "postgresql://erp:s3cr3t-pw@127.0.0.1:1/erp"
    result = cli("db", "verify", database_url=url, cwd=tmp_path)
    assert result.returncode == 1
    answer = json.loads(result.stdout)
    assert answer["database"]["reachable"] is False
    assert "refused" in answer["database"]["error"]
    assert "s3cr3t-pw" not in result.stdout + result.stderr


def test_serve_without_a_secret_refuses_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TIMEMOTO_WEBHOOK_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "TIMEMOTO_WEBHOOK_SECRET" in result.stderr


def test_uvicorn_factory_without_a_secret_refuses_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TIMEMOTO_WEBHOOK_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "TIMEMOTO_WEBHOOK_SECRET is not set" in result.stderr
    assert "Traceback" not in result.stderr
