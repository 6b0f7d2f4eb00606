"""Connections to PostgreSQL: where the database is, and waits that always end.

Every connection is made by asyncpg with the connect timeout, and every statement carries the
statement timeout both client side (asyncpg's command_timeout, which also covers a server that
never answers) and server side (PostgreSQL's statement_timeout).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import asyncpg
import msgspec
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from service.settings import Settings


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """A PostgreSQL database to connect to; `label` and `key` never contain the password."""

    dsn: str  # libpq-style URL as asyncpg takes it
    connect_timeout: float
    statement_timeout: float

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> DatabaseTarget:
        # SQLAlchemy spells the driver into the scheme; asyncpg wants plain postgresql://.
        dsn = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)
        return cls(dsn, settings.connect_timeout, settings.statement_timeout)

    @property
    def label(self) -> str:
        url = make_url(self.dsn)
        host = url.host or str(url.query.get("host", "local socket"))
        port = f":{url.port}" if url.port else ""
        return f"{url.username or ''}@{host}{port}/{url.database or ''}"

    @property
    def user(self) -> str | None:
        return make_url(self.dsn).username

    @property
    def key(self) -> str:
        """Stable identity of the database, so a spool drains only into the one it was for."""
        return hashlib.sha256(self.label.encode()).hexdigest()[:16]

    async def connect(self, *, require_tls: bool = False) -> asyncpg.Connection:
        """A connection as DATABASE_URL says; `require_tls` overrides its sslmode (the schema
        check asks whether a refused plain connection would pass over TLS)."""
        return await asyncpg.connect(
            self.dsn,
            ssl="require" if require_tls else None,
            timeout=self.connect_timeout,
            command_timeout=self.statement_timeout,
            server_settings={
                "application_name": "timemoto-pointage",
                "statement_timeout": str(int(self.statement_timeout * 1000)),
            },
        )


def resolve_database_url(settings: Settings) -> str:
    """`DATABASE_URL`, or else the embedded PostgreSQL under the data directory (started here)."""
    if settings.database_url:
        return settings.database_url
    from service.db.embedded import start_embedded

    return start_embedded(settings.data_dir)


def create_engine(target: DatabaseTarget, pool_timeout: float) -> AsyncEngine:
    return create_async_engine(
        "postgresql+asyncpg://",
        async_creator=target.connect,
        pool_size=5,
        max_overflow=5,
        pool_timeout=pool_timeout,
        pool_recycle=300,
        # jsonb parameters (each delivery's payload) encoded by msgspec: several times faster.
        json_serializer=_json_text,
    )


def _json_text(value: object) -> str:
    return msgspec.json.encode(value).decode()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
