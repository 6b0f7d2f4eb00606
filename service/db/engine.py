"""Connections to PostgreSQL: where the database is, and waits that always end.

Every connection is made by asyncpg with the connect timeout (per host), and every statement
carries the statement timeout (asyncpg's command_timeout: it also covers a server that never
answers, and cancels the statement on the server when it fires). `DATABASE_URL` is read by
service/db/url.py, as libpq reads it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import asyncpg
import msgspec
from asyncpg.connect_utils import SessionAttribute
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from service.db.url import DatabaseUrl
from service.settings import Settings

# No statement named and kept for later: behind PgBouncer in transaction mode the next
# transaction may run on another server connection, where it does not exist. asyncpg then
# sends each statement unnamed and parses it each time it runs (README, "Speed": the cost).
STATEMENT_CACHE_SIZE = 0


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """A PostgreSQL database to connect to; `label` and `key` never contain the password."""

    url: DatabaseUrl
    connect_timeout: float  # per host tried: the URL's connect_timeout, else DB_CONNECT_TIMEOUT
    statement_timeout: float

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> DatabaseTarget:
        parsed = DatabaseUrl.parse(url)  # ConfigurationError in one line
        connect_timeout = parsed.connect_timeout or settings.connect_timeout
        return cls(parsed, connect_timeout, settings.statement_timeout)

    @property
    def label(self) -> str:
        return self.url.label

    @property
    def user(self) -> str | None:
        return self.url.user or None

    @property
    def key(self) -> str:
        """Stable identity of the database, so a spool drains only into the one it was for:
        the user, the hosts and the database, never the TLS or session parameters (a URL that
        only gains `sslmode=require` still names the same database)."""
        return hashlib.sha256(self.label.encode()).hexdigest()[:16]

    @property
    def connect_deadline(self) -> float:
        """The longest a connection may take: each host its connect timeout, as in libpq."""
        return self.connect_timeout * len(self.url.hosts)

    async def connect(self, *, require_tls: bool = False) -> asyncpg.Connection:
        """A connection to the first host that answers and suits `target_session_attrs`;
        `require_tls` overrides the URL's sslmode (the schema check asks whether a plain
        connection that pg_hba.conf refused would pass over TLS).

        Each host gets the connect timeout of its own (libpq's way; asyncpg's `timeout` spans
        all hosts, so a first host that drops packets would use it up). Nothing is sent that a
        pooler in transaction mode refuses or loses between transactions: no startup parameter
        beyond application_name (and `options` when the URL gives it), and no statement named
        and prepared for later (PgBouncer hands each transaction any server connection). The
        statement timeout is asyncpg's command_timeout, which also cancels the statement on the
        server (a cancel request) when it fires.
        """
        url = self.url
        attrs = url.target_session_attrs or "any"
        passes = ["standby", "any"] if attrs == "prefer-standby" else [attrs]
        last_error: BaseException | None = None
        mismatched: BaseException | None = None
        for wanted in passes:
            for host, port in zip(url.hosts, url.ports, strict=True):
                try:
                    return await self._connect_one(host, port, wanted, require_tls)
                except asyncpg.TargetServerAttributeNotMatched as exc:
                    mismatched = exc  # it answered, but is not what the URL asks for
                except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                    last_error = exc
                    if not _next_host_may_help(exc):
                        raise
        # As libpq: a server that answered but does not suit says more than one that did not.
        raise mismatched or last_error or OSError("DATABASE_URL names no host")

    async def _connect_one(
        self, host: str, port: int | None, attrs: str, require_tls: bool = False
    ) -> asyncpg.Connection:
        url = self.url
        return await asyncpg.connect(
            url.tls_dsn(),
            ssl="require" if require_tls else None,
            host=host or None,
            port=port,
            user=url.user,
            password=url.password,
            database=url.database,
            timeout=self.connect_timeout,
            command_timeout=self.statement_timeout,
            statement_cache_size=STATEMENT_CACHE_SIZE,
            server_settings=url.startup_settings(),
            target_session_attrs=SessionAttribute(attrs),
        )


def _next_host_may_help(exc: BaseException) -> bool:
    """Does libpq try the next host after this error? After a connection failure yes; after the
    server's word about this role or database (a wrong password), the next would say the same."""
    if isinstance(exc, asyncpg.PostgresError):
        return (exc.sqlstate or "").startswith(("08", "57P", "53"))
    return True


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
