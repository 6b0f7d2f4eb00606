"""The group commit on a real database: a transaction held up does not hold up the punches
behind it for long, a batch with one row the database refuses stores all the others, and a
punch a correction waits for gets it applied while the batch around it is written without."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest

from service.db.engine import DatabaseTarget, create_engine, session_factory
from service.db.errors import DatabaseUnavailable, DeliveryRefused
from service.db.group_commit import GroupCommit, Recorded
from service.db.schema import schema_sql
from service.db.store import DeliveryStore
from service.domain.delivery import parse_delivery
from service.domain.timemoto import ATTENDANCE_DELETED
from service.settings import Settings
from tests.support.databases import Database
from tests.support.samples import a_document, a_punch

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
DEADLINE = 30.0  # seconds: generous, the machine may be busy; never reached when it works


@asynccontextmanager
async def group_commit(url: str, **options: float) -> AsyncIterator[GroupCommit]:
    engine = create_engine(DatabaseTarget.from_url(url, Settings(webhook_secrets=("s",))), 10)
    try:
        sessions = session_factory(engine)
        failure = DeliveryStore(sessions).failure  # the store's classification, as it runs
        yield GroupCommit(sessions, failure, **options)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = DEADLINE) -> None:
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - the database has no event to wait on
            await asyncio.sleep(0.02)


# The backends of this database waiting for a lock (asked on a connection of its own: within a
# transaction, pg_stat_activity stays as first read).
LOCK_WAITERS = (
    "SELECT pid FROM pg_stat_activity"
    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
)


async def until_one_waits_for_a_lock(watcher: asyncpg.Connection) -> None:
    async def waits() -> bool:
        return await watcher.fetchval(LOCK_WAITERS) is not None

    await until(waits)


def assert_deleted_by_its_correction(database: Database, user: str, delete_id: str) -> None:
    assert (
        database.value("SELECT count(*) FROM pointage_horodatage WHERE timemoto_user_id = $1", user)
        == 0
    )
    statut = "SELECT statut FROM pointage_evenement WHERE event_id = $1"
    assert database.value(statut, delete_id) == "applique"


@pytest.mark.parametrize(
    ("behind", "options"),
    [
        (40, {}),  # more than `crowd` wait: another writer takes them
        (1, {"slow": 0.0}),  # one alone, once the running transaction is older than `slow`
    ],
)
def test_a_transaction_waiting_on_a_lock_does_not_hold_up_the_punches_behind_it(
    database_url: str, database: Database, behind: int, options: dict[str, float]
) -> None:
    database.execute(schema_sql())
    database.execute("TRUNCATE pointage_horodatage")

    async def scenario() -> tuple[list[Recorded], Recorded]:
        holder = await asyncpg.connect(database_url)
        watcher = await asyncpg.connect(database_url)
        try:
            async with group_commit(database_url, **options) as group:
                lock = holder.transaction()
                await lock.start()
                await holder.execute("SELECT pointage_verrouiller('held-user')")
                held = asyncio.create_task(group.add(a_punch("held-user"), NOW))
                await until_one_waits_for_a_lock(watcher)
                others = [a_punch(f"user-{n}") for n in range(behind)]
                async with asyncio.timeout(DEADLINE):
                    stored = await asyncio.gather(*(group.add(p, NOW) for p in others))
                assert not held.done()  # still waiting for the lock
                await lock.rollback()
                async with asyncio.timeout(DEADLINE):
                    return stored, await held
        finally:
            await holder.close()
            await watcher.close()

    stored, held = asyncio.run(scenario())
    assert stored == ["stored"] * behind
    assert held == "stored"
    assert database.fetch("SELECT count(*) AS n FROM pointage_horodatage")[0]["n"] == behind + 1


def test_one_row_the_database_refuses_fails_alone_among_a_whole_chunk(
    database_url: str, database: Database
) -> None:
    database.execute(schema_sql())
    database.execute("TRUNCATE pointage_horodatage")
    database.execute(
        "ALTER TABLE pointage_horodatage"
        " ADD CONSTRAINT test_refuse_one CHECK (timemoto_user_id <> 'refused')"
    )
    punches = [a_punch(f"user-{n % 7}", n % 60) for n in range(300)]
    punches[137] = a_punch("refused")
    punches.append(punches[5])  # the same delivery twice in one chunk: the second a duplicate

    async def scenario() -> list[Recorded | Exception]:
        async with group_commit(database_url) as group:
            fates = await group.add_all([(p, NOW) for p in punches], per_transaction=128)
            return list(fates)

    try:
        fates = asyncio.run(scenario())
    finally:
        database.execute("ALTER TABLE pointage_horodatage DROP CONSTRAINT test_refuse_one")
    assert isinstance(fates[137], DeliveryRefused)
    assert fates[5] == "stored" and fates[-1] == "duplicate"
    assert [f for n, f in enumerate(fates) if n not in (137, len(fates) - 1)] == ["stored"] * 299
    assert database.fetch("SELECT count(*) AS n FROM pointage_horodatage")[0]["n"] == 299


def test_a_chunk_is_written_in_lanes_by_user_so_a_user_held_up_holds_up_only_its_own_lane(
    database_url: str, database: Database
) -> None:
    """The two users' punches alternate, so any transaction of the chunk cut by position would
    hold both users and wait for the held one's lock: only lanes by user let the other through."""
    database.execute(schema_sql())
    database.execute("TRUNCATE pointage_horodatage")
    held_user, free_user = "a-held-user", "b-free-user"  # sorted: a lane each
    chunk = [a_punch(user, n) for n in range(10) for user in (held_user, free_user)]
    rows_of = "SELECT count(*) FROM pointage_horodatage WHERE timemoto_user_id = $1"

    async def scenario() -> tuple[int, list[Recorded | Exception]]:
        holder = await asyncpg.connect(database_url)
        watcher = await asyncpg.connect(database_url)

        async def free_user_stored() -> bool:
            return await watcher.fetchval(rows_of, free_user) == 10

        try:
            async with group_commit(database_url) as group:
                lock = holder.transaction()
                await lock.start()
                await holder.execute("SELECT pointage_verrouiller($1)", held_user)
                writing = asyncio.create_task(
                    group.add_all([(p, NOW) for p in chunk], per_transaction=4)
                )
                await until(free_user_stored)  # while the other lane waits for the lock
                held_rows: int = await watcher.fetchval(rows_of, held_user)
                await lock.rollback()
                async with asyncio.timeout(DEADLINE):
                    return held_rows, list(await writing)
        finally:
            await holder.close()
            await watcher.close()

    held_rows, fates = asyncio.run(scenario())
    assert held_rows == 0
    assert fates == ["stored"] * 20
    assert database.value("SELECT count(*) FROM pointage_horodatage") == 20


def test_a_punch_a_correction_waits_for_gets_it_and_the_batch_around_it_is_written_too(
    database_url: str, database: Database
) -> None:
    """The batch's one statement leaves that user out; a transaction of its own writes the punch
    and applies the delete that came before it."""
    database.execute(schema_sql())
    database.execute("TRUNCATE pointage_horodatage, pointage_evenement")
    user = f"corrected-{uuid.uuid4().hex}"
    document = a_document(user)
    delete = {**document, "id": f"tm_{uuid.uuid4().hex}", "event": ATTENDANCE_DELETED}
    others = [a_punch(f"user-{n}", n) for n in range(20)]
    punch = parse_delivery(document).punch
    assert punch is not None
    chunk = [*others[:10], punch, *others[10:]]

    async def scenario() -> tuple[Recorded, list[Recorded | Exception]]:
        engine = create_engine(
            DatabaseTarget.from_url(database_url, Settings(webhook_secrets=("s",))), 10
        )
        try:
            store = DeliveryStore(session_factory(engine))
            waiting = await store.record(parse_delivery(delete), NOW)
            fates = await store.record_punches([(p, NOW) for p in chunk], per_transaction=500)
            return waiting, list(fates)
        finally:
            await engine.dispose()

    waiting, fates = asyncio.run(scenario())
    assert waiting == "ignored"  # nothing to delete yet: kept, waiting for its punch
    assert fates == ["stored"] * 21
    assert (
        database.value("SELECT count(*) FROM pointage_horodatage") == 20
    )  # all but the deleted one
    assert_deleted_by_its_correction(database, user, delete["id"])


def test_a_correction_committed_while_the_batch_waits_for_its_user_is_seen(
    database_url: str, database: Database
) -> None:
    """The correction's transaction holds the user's lock while it decides to wait (as
    `apply_correction` does) and commits while the batch's statement waits for that lock: the
    statement began before that commit, yet looks for corrections after the lock (a fresh
    snapshot), so the punch goes the way that applies the correction."""
    database.execute(schema_sql())
    database.execute("TRUNCATE pointage_horodatage, pointage_evenement")
    user = f"raced-{uuid.uuid4().hex}"
    document = a_document(user)
    delete = {**document, "id": f"tm_{uuid.uuid4().hex}", "event": ATTENDANCE_DELETED}
    punch = parse_delivery(document).punch
    assert punch is not None

    async def scenario() -> Recorded:
        correction = await asyncpg.connect(database_url)
        watcher = await asyncpg.connect(database_url)
        try:
            async with group_commit(database_url) as group:
                decided = correction.transaction()
                await decided.start()
                await correction.execute("SELECT pointage_verrouiller($1)", user)
                fate = asyncio.create_task(group.add(punch, NOW))
                await until_one_waits_for_a_lock(watcher)
                await correction.execute(
                    "INSERT INTO pointage_evenement (event_id, event, statut, payload)"
                    " VALUES ($1, $2, 'non_applique', $3::jsonb)",
                    delete["id"],
                    ATTENDANCE_DELETED,
                    json.dumps(delete),
                )
                await decided.commit()
                async with asyncio.timeout(DEADLINE):
                    return await fate
        finally:
            await correction.close()
            await watcher.close()

    assert asyncio.run(scenario()) == "stored"
    assert_deleted_by_its_correction(database, user, delete["id"])


def test_after_a_batch_loses_its_connection_the_next_batch_gets_a_fresh_one(
    database_url: str, database: Database
) -> None:
    """The writer keeps its session for the batches that follow each other; when one fails on
    it (here its backend is terminated while the batch waits for a lock), the next batch must
    not go to the dead connection."""
    database.execute(schema_sql())
    database.execute("TRUNCATE pointage_horodatage")

    async def scenario() -> tuple[BaseException | None, list[Recorded]]:
        holder = await asyncpg.connect(database_url)
        watcher = await asyncpg.connect(database_url)
        try:
            # One writer only: no crowd, no transaction ever slow enough for a second one.
            async with group_commit(database_url, crowd=10_000, slow=3600) as group:
                lock = holder.transaction()
                await lock.start()
                await holder.execute("SELECT pointage_verrouiller('held-user')")
                first = asyncio.create_task(group.add(a_punch("held-user"), NOW))
                await until_one_waits_for_a_lock(watcher)
                behind = [
                    asyncio.create_task(group.add(a_punch(f"user-{n}"), NOW)) for n in range(5)
                ]
                # Not a wait for time: one yield, and the tasks made above, scheduled first, run
                # up to their answer, so all five are queued behind the blocked batch.
                await asyncio.sleep(0)
                await watcher.execute(
                    f"SELECT pg_terminate_backend(pid) FROM ({LOCK_WAITERS}) AS w"
                )
                async with asyncio.timeout(DEADLINE):
                    failed = (await asyncio.gather(first, return_exceptions=True))[0]
                    stored = await asyncio.gather(*behind)
                await lock.rollback()
                return (failed if isinstance(failed, BaseException) else None), list(stored)
        finally:
            await holder.close()
            await watcher.close()

    failed, stored = asyncio.run(scenario())
    assert isinstance(failed, DatabaseUnavailable)
    assert stored == ["stored"] * 5
    assert (
        database.value(
            "SELECT count(*) FROM pointage_horodatage WHERE timemoto_user_id LIKE 'user-%'"
        )
        == 5
    )
