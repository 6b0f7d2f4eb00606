"""An imported punch (python -m service reconcile --apply) and a delivered one with the same user,
instant to the second and type are one clocking, whichever came first; deliveries among
themselves keep the delivery id's rule. Through the store, on a real database, and concurrently."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.db.engine import DatabaseTarget, create_engine, session_factory
from service.db.schema import schema_sql
from service.db.store import DeliveryStore
from service.domain.delivery import Punch, parse_delivery
from service.domain.timemoto_export import import_event_id
from service.settings import Settings
from tests.support.databases import Database
from tests.support.samples import a_document

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@asynccontextmanager
async def a_store(url: str) -> AsyncIterator[DeliveryStore]:
    engine = create_engine(DatabaseTarget.from_url(url, Settings(webhook_secrets=("s",))), 10)
    try:
        yield DeliveryStore(session_factory(engine))
    finally:
        await engine.dispose()


def delivered(user: str, minute: int = 0) -> Punch:
    document = a_document(user, minute)
    document["data"]["timeLoggedRounded"] = document["data"]["timeLogged"]
    punch = parse_delivery(document).punch
    assert punch is not None
    return punch


def imported(punch: Punch, shift: timedelta = timedelta()) -> Punch:
    """The same clocking as TimeMoto's export has it (to the second), with its import id."""
    instant = punch.horodatage + shift
    return dataclasses.replace(
        punch,
        event_id=import_event_id(punch.timemoto_user_id, instant, punch.type_pointage),
        horodatage=instant,
        payload={"source": "reconcile", "file": "export.csv", "row": 2},
    )


def rows_of(database: Database, user: str) -> int:
    count = database.value(
        "SELECT count(*) FROM pointage_horodatage WHERE timemoto_user_id = $1", user
    )
    assert isinstance(count, int)
    return count


@pytest.fixture(autouse=True)
def schema(database: Database) -> None:
    database.execute(schema_sql())


def test_a_delivery_after_the_import_of_its_clocking_is_a_duplicate(
    database_url: str, database: Database
) -> None:
    user = f"u-{uuid.uuid4().hex}"
    punch = delivered(user)

    async def scenario() -> list[Any]:
        async with a_store(database_url) as store:
            first = await store.record_punches([(imported(punch), NOW)], 16)
            second = await store.record_punches([(punch, NOW)], 16)
            return [*first, *second]

    assert asyncio.run(scenario()) == ["stored", "duplicate"]
    assert rows_of(database, user) == 1
    kept = "SELECT event_id FROM pointage_horodatage WHERE timemoto_user_id = $1"
    assert str(database.value(kept, user)).startswith("import:")


def test_an_import_after_the_delivery_is_skipped_within_the_second_and_not_for_another_type(
    database_url: str, database: Database
) -> None:
    user = f"u-{uuid.uuid4().hex}"
    punch = delivered(user)
    same_second = imported(punch, timedelta(milliseconds=700))  # the export's second, cut
    other_type = dataclasses.replace(imported(punch), type_pointage="sortie")
    other_type = dataclasses.replace(
        other_type, event_id=import_event_id(user, punch.horodatage, "sortie")
    )
    next_second = imported(punch, timedelta(seconds=1))

    async def scenario() -> list[Any]:
        async with a_store(database_url) as store:
            fates = list(await store.record_punches([(punch, NOW)], 16))
            for later in (same_second, other_type, next_second):
                fates += await store.record_punches([(later, NOW)], 16)
            return fates

    assert asyncio.run(scenario()) == ["stored", "duplicate", "stored", "stored"]
    assert rows_of(database, user) == 3


def test_deliveries_among_themselves_keep_the_id_rule(
    database_url: str, database: Database
) -> None:
    """Two deliveries of the same instant and type with different ids are two clockings (§1)."""
    user = f"u-{uuid.uuid4().hex}"
    first = delivered(user)
    second = dataclasses.replace(first, event_id=f"tm_{uuid.uuid4().hex}")

    async def scenario() -> list[Any]:
        async with a_store(database_url) as store:
            return list(await store.record_punches([(first, NOW), (second, NOW)], 16))

    assert asyncio.run(scenario()) == ["stored", "stored"]
    assert rows_of(database, user) == 2


def test_an_import_run_twice_stores_each_clocking_once(
    database_url: str, database: Database
) -> None:
    user = f"u-{uuid.uuid4().hex}"
    batch = [(imported(delivered(user, minute)), NOW) for minute in range(10)]

    async def scenario() -> tuple[list[Any], list[Any]]:
        async with a_store(database_url) as store:
            return list(await store.record_punches(batch, 4)), list(
                await store.record_punches(batch, 4)
            )

    first, second = asyncio.run(scenario())
    assert first == ["stored"] * 10 and second == ["duplicate"] * 10
    assert rows_of(database, user) == 10


@pytest.mark.parametrize("rounds", [range(6)])
def test_concurrent_deliveries_and_imports_of_the_same_clockings_store_each_once(
    database_url: str, database: Database, rounds: range
) -> None:
    """Each clocking delivered (twice, by two writers) while the import of the same clocking is
    written by a third: whatever the interleaving, one row for each, and exactly one writer is
    answered `stored` for it."""
    users = [f"u-{uuid.uuid4().hex}" for _ in range(4)]
    clockings = [delivered(user, minute) for user in users for minute in range(15)]

    async def scenario() -> list[list[object]]:
        async with a_store(database_url) as one, a_store(database_url) as two:
            fates = await asyncio.gather(
                one.record_punches([(p, NOW) for p in clockings], 8),
                two.record_punches([(imported(p), NOW) for p in clockings], 8),
                *(one.record(parse_delivery({**p.payload}), NOW) for p in clockings[::3]),
                *(two.record(parse_delivery({**p.payload}), NOW) for p in clockings[1::3]),
            )
            return [list(f) if isinstance(f, list) else [f] for f in fates]

    for _ in rounds:
        database.execute("TRUNCATE pointage_horodatage")
        fates = asyncio.run(scenario())
        again = dict(
            zip(
                [*range(0, len(clockings), 3), *range(1, len(clockings), 3)], fates[2:], strict=True
            )
        )
        for n in range(len(clockings)):
            outcome = [fates[0][n], fates[1][n], *again.get(n, [])]
            assert outcome.count("stored") == 1, outcome
            assert outcome.count("duplicate") == len(outcome) - 1, outcome
        assert database.value("SELECT count(*) FROM pointage_horodatage") == len(clockings)


def test_an_ignored_twin_of_the_same_second_and_type_is_another_clocking(
    database_url: str, database: Database
) -> None:
    """TimeMoto keeps a double press as a second clocking, ignored: the import brings it back."""
    user = f"u-{uuid.uuid4().hex}"
    punch = delivered(user)
    twin = dataclasses.replace(
        imported(punch),
        ignore=True,
        event_id=import_event_id(user, punch.horodatage, punch.type_pointage, ignored=True),
    )

    async def scenario() -> list[Any]:
        async with a_store(database_url) as store:
            fates = list(await store.record_punches([(punch, NOW)], 16))
            fates += await store.record_punches([(twin, NOW), (imported(punch), NOW)], 16)
            return fates

    assert asyncio.run(scenario()) == ["stored", "stored", "duplicate"]
    assert rows_of(database, user) == 2
