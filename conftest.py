"""Fixtures shared by tests/ and features/: a real PostgreSQL, and the service on it.

The helpers behind them live in tests/support/ (databases, the service harness, signed posts).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hypothesis import settings

from service.db.schema import schema_sql
from simulator.proxy import FaultProxy, upstream_of
from tests.support.databases import Database, fresh_database, postgres_server
from tests.support.service import InProcessService, service_settings

# Timing is not what property tests check: this machine is shared, and a slow example is not a
# wrong one (benches measure speed).
settings.register_profile("shared-machine", deadline=None)
settings.load_profile("shared-machine")


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
) -> Iterator[InProcessService]:
    """The application, in this process, on this module's database (it applies the schema)."""
    workdir = tmp_path_factory.mktemp("service")
    with InProcessService(service_settings(database_url, workdir)) as running:
        yield running


@pytest.fixture(scope="module")
def client(service: InProcessService) -> httpx.Client:
    """An HTTP client on the module's in-process service."""
    return service.client


@pytest.fixture(scope="module")
def proxy(database_url: str, database: Database) -> Iterator[FaultProxy]:
    """A fault proxy (a real TCP proxy) in front of the module's database, its schema applied."""
    database.execute(schema_sql())
    with FaultProxy(upstream_of(database_url)).start() as running:
        yield running
