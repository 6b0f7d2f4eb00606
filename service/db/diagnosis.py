"""What `python -m service doctor` asks the network and PostgreSQL, one step at a time (the
order of docs/contract.md §8): each function answers, or raises what the driver raised, for
service/db/errors.py to classify. Nothing here is kept: the trigger's test is rolled back."""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import UTC, datetime

from service.db.engine import DatabaseTarget

DEFAULT_PORT = 5432


async def resolve(host: str) -> list[str]:
    """The addresses of `host` (a socket folder resolves to itself)."""
    if not host or host.startswith("/"):
        return [host or "the local socket"]
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def reach(host: str, port: int | None, seconds: float) -> None:
    """A TCP connection to host:port opens within `seconds` (then closes)."""
    if not host or host.startswith("/"):
        return  # a Unix socket: the connection itself is the test
    async with asyncio.timeout(seconds):
        _, writer = await asyncio.open_connection(host, port or DEFAULT_PORT)
    writer.close()
    await writer.wait_closed()


async def session(target: DatabaseTarget) -> tuple[bool, str, str]:
    """Connect as DATABASE_URL says: whether TLS protects the connection, who we are, where."""
    async with asyncio.timeout(target.connect_deadline):
        connection = await target.connect()
    try:
        row = await connection.fetchrow(
            "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false),"
            " current_user::text, current_database()::text"
        )
    finally:
        await connection.close(timeout=target.connect_timeout)
    assert row is not None
    return bool(row[0]), str(row[1]), str(row[2])


TRIGGER_TEST = """
WITH punch AS (
    INSERT INTO pointage_horodatage (event_id, timemoto_user_id, type_pointage, horodatage,
                                     fuseau_horaire, date_travail, payload)
    VALUES ($1, $2, 'entree', $3, 'UTC', ($3 AT TIME ZONE 'UTC')::date, '{"doctor": true}')
    RETURNING id
)
SELECT count(*) FROM punch
"""
SUMMARY_OF = "SELECT nb_pointages FROM pointage_resume_mensuel WHERE timemoto_user_id = $1"


async def trigger_follows(target: DatabaseTarget) -> int:
    """Write a punch for a user of its own and read its month's summary, in a transaction that
    is rolled back: the punches the summary counts (1 when the trigger works)."""
    user = f"doctor-{uuid.uuid4().hex}"
    async with asyncio.timeout(target.connect_deadline + 2 * target.statement_timeout):
        connection = await target.connect()
        try:
            transaction = connection.transaction()
            await transaction.start()
            try:
                await connection.fetchval(TRIGGER_TEST, f"doctor:{user}", user, datetime.now(UTC))
                counted = await connection.fetchval(SUMMARY_OF, user)
            finally:
                await transaction.rollback()  # nothing of it is kept
        finally:
            await connection.close(timeout=target.connect_timeout)
    return int(counted or 0)
