"""Fixtures shared by tests/ and features/: a real PostgreSQL, and the real service on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.harness import Database, ServiceProcess
from tests.support.databases import fresh_database, postgres_server

WEBHOOK_SECRET = "test-secret-do-not-use"


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database for each test module."""
    with fresh_database(postgres_server_url) as url:
        yield url


@pytest.fixture(scope="module")
def database(database_url: str) -> Database:
    return Database(database_url)


@pytest.fixture(scope="module")
def service(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """The service, as uvicorn runs it in production, on this module's database."""
    workdir: Path = tmp_path_factory.mktemp("service")
    env = {
        "TIMEMOTO_WEBHOOK_SECRET": f"old-secret, {WEBHOOK_SECRET}",
        "DATABASE_URL": database_url,
        "SPOOL_DIR": str(workdir / "spool"),
        "DATA_DIR": str(workdir / "data"),
    }
    with ServiceProcess(workdir, env) as running:
        yield running
