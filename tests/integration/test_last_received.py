"""Where a silence is counted from after a restart: the latest delivery the database holds, a
punch or any other event (the monitor reads it once at start, db/status_queries.last_received)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx

from service.db.engine import DatabaseTarget, create_engine, session_factory
from service.db.status_queries import last_received
from service.settings import Settings
from simulator.harness import Database
from tests.support.webhook import a_delivery, post


def latest(database_url: str) -> datetime | None:
    async def read() -> datetime | None:
        engine = create_engine(
            DatabaseTarget.from_url(database_url, Settings(webhook_secrets=("s",))), 5
        )
        try:
            async with session_factory(engine)() as session:
                return await last_received(session)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_the_latest_punch_or_event_is_where_silence_counts_from(
    client: httpx.Client, database: Database, database_url: str
) -> None:
    assert latest(database_url) is None  # nothing yet: silence counts from the start
    assert post(client, a_delivery()).json()["status"] == "stored"
    punch = database.value("SELECT max(recu_le) FROM pointage_horodatage")
    assert latest(database_url) == punch
    assert post(client, a_delivery(event="user.updated")).json()["status"] == "ignored"
    event = database.value("SELECT max(recu_le) FROM pointage_evenement")
    assert event > punch
    assert latest(database_url) == event
    assert post(client, a_delivery()).json()["status"] == "stored"
    assert latest(database_url) == database.value("SELECT max(recu_le) FROM pointage_horodatage")


def test_a_punch_brought_back_from_timemoto_s_export_is_not_a_delivery(
    client: httpx.Client, database: Database, database_url: str
) -> None:
    """An imported punch's `recu_le` is the time of the import: TimeMoto did not call then."""
    before = latest(database_url)
    database.execute(
        "INSERT INTO pointage_horodatage (event_id, timemoto_user_id, type_pointage, horodatage,"
        " fuseau_horaire, date_travail, payload, recu_le) VALUES ('import:0123', 'u-import',"
        " 'entree', now(), 'UTC', current_date, '{}', now() + interval '1 hour')"
    )
    assert latest(database_url) == before
