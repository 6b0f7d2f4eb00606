"""Whatever punches arrive, in whatever order, with whatever corrections: the database's
`pointage_resume` (kept by its trigger) equals the reference model's summaries, row for row; so
do each punch's anomaly reason and break time, and the day rows of `v_pointage_jour`.

Random histories of several users in Africa/Tunis and Europe/Paris, around DST changes and month
ends, with night shifts, duplicate deliveries, ignored clockings, then some updates and deletes.
Each example uses fresh user ids on one shared database (no truncation between examples).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.db.schema import schema_sql
from service.domain.delivery import Punch
from service.domain.timemoto import TypePointage
from simulator.worktime_model import attributed, daily_summaries, monthly_summaries
from tests.support.erp import expected_days, expected_months, stored_days, stored_months
from tests.support.worktime import (
    DELETE_MANY_SQL,
    INSERT_MANY_SQL,
    INSERT_SQL,
    LOCK_USERS_SQL,
    UPDATE_MANY_SQL,
    PunchDatabase,
    as_updated,
    at,
    columns,
    row,
)

KINDS: list[TypePointage] = ["entree", "sortie", "debut_pause", "fin_pause", "inconnu"]
ZONES = ["Africa/Tunis", "Europe/Paris"]
# Where things get interesting: DST changes in Paris, month and year ends.
BASES = [
    datetime(2026, 3, 28, 18, 0, tzinfo=UTC),  # Paris springs forward on 29 March, 01:00 UTC
    datetime(2026, 10, 24, 18, 0, tzinfo=UTC),  # Paris falls back on 25 October, 01:00 UTC
    datetime(2026, 1, 31, 17, 0, tzinfo=UTC),
    datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
]
# Gaps between consecutive punches: same instant, seconds, a break, a shift, a night, over 24 h.
GAPS = st.sampled_from([0, 0, 1, 37, 60, 900, 1800, 3600, 4 * 3600, 8 * 3600, 14 * 3600, 86_400])


@dataclass(frozen=True)
class Draft:
    kind: TypePointage
    gap: int  # seconds after the previous punch of the user
    other_zone: bool
    ignore: bool
    delivered_twice: bool


drafts = st.builds(
    Draft,
    kind=st.sampled_from(KINDS[:2] * 3 + KINDS),  # mostly entree and sortie
    gap=GAPS,
    other_zone=st.integers(0, 9).map(lambda n: n < 3),
    ignore=st.integers(0, 9).map(lambda n: n == 0),
    delivered_twice=st.integers(0, 9).map(lambda n: n == 0),
)


@dataclass(frozen=True)
class Change:
    kind: str  # delete, move, retype, toggle_ignore, reassign (to the next user)
    target: int  # index into the punches, modulo their number
    seconds: int
    new_type: TypePointage


changes = st.builds(
    Change,
    kind=st.sampled_from(["delete", "move", "retype", "toggle_ignore", "reassign"]),
    target=st.integers(0, 10_000),
    seconds=st.sampled_from([-86_400, -3600, -60, 1, 600, 7200, 40_000]),
    new_type=st.sampled_from(KINDS),
)


@dataclass(frozen=True)
class Story:
    users: list[list[Draft]]
    bases: list[datetime]
    zones: list[str]
    order_seed: int
    changes: list[Change]
    map_first_user: bool


stories = st.builds(
    Story,
    users=st.lists(st.lists(drafts, min_size=1, max_size=14), min_size=1, max_size=3),
    bases=st.lists(st.sampled_from(BASES), min_size=3, max_size=3),
    zones=st.lists(st.sampled_from(ZONES), min_size=3, max_size=3),
    order_seed=st.integers(0, 2**32 - 1),
    changes=st.lists(changes, max_size=4),
    map_first_user=st.booleans(),
)


def punches_of(story: Story, users: list[str]) -> tuple[list[Punch], list[Punch]]:
    """The distinct punches, and the deliveries (duplicates included)."""
    punches: list[Punch] = []
    deliveries: list[Punch] = []
    for index, (user, drafts_of_user) in enumerate(zip(users, story.users, strict=False)):
        instant = story.bases[index]
        home = story.zones[index]
        for draft in drafts_of_user:
            instant += timedelta(seconds=draft.gap)
            zone = ZONES[1 - ZONES.index(home)] if draft.other_zone else home
            made = at(user, draft.kind, instant, zone, ignore=draft.ignore)
            punches.append(made)
            deliveries += [made, made] if draft.delivered_twice else [made]
    return punches, deliveries


@pytest.fixture(scope="module")
def punches_db(database_url: str) -> Iterator[PunchDatabase]:
    with PunchDatabase(database_url) as db:
        db.execute(schema_sql())
        yield db


def apply_change(
    db: PunchDatabase, punches: list[Punch], change: Change, users: list[str]
) -> list[Punch]:
    """The same correction on the database and on the model's list."""
    if not punches:
        return punches
    i = change.target % len(punches)
    target = punches[i]
    if change.kind == "delete":
        db.execute("DELETE FROM pointage_horodatage WHERE event_id = $1", target.event_id)
        return punches[:i] + punches[i + 1 :]
    if change.kind == "move":
        moved = at(
            target.timemoto_user_id,
            target.type_pointage,
            target.horodatage + timedelta(seconds=change.seconds),
            target.fuseau_horaire,
            ignore=target.ignore,
            event_id=target.event_id,
        )
        db.execute(
            "UPDATE pointage_horodatage SET horodatage = $2, date_travail = $3 WHERE event_id = $1",
            target.event_id,
            moved.horodatage,
            moved.date_travail,
        )
    elif change.kind == "retype":
        moved = replace(target, type_pointage=change.new_type)
        db.execute(
            "UPDATE pointage_horodatage SET type_pointage = $2 WHERE event_id = $1",
            target.event_id,
            change.new_type,
        )
    elif change.kind == "reassign":
        other = users[(users.index(target.timemoto_user_id) + 1) % len(users)]
        moved = replace(target, timemoto_user_id=other)
        db.execute(
            "UPDATE pointage_horodatage SET timemoto_user_id = $2 WHERE event_id = $1",
            target.event_id,
            other,
        )
    else:
        moved = replace(target, ignore=not target.ignore)
        db.execute(
            "UPDATE pointage_horodatage SET ignore = NOT ignore WHERE event_id = $1",
            target.event_id,
        )
    return [*punches[:i], moved, *punches[i + 1 :]]


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(story=stories)
def test_database_equals_the_model(punches_db: PunchDatabase, story: Story) -> None:
    users = fresh_users(punches_db, story, "prop")
    punches, deliveries = punches_of(story, users)
    random.Random(story.order_seed).shuffle(deliveries)
    punches_db.insert(deliveries)
    for change in story.changes:
        punches = apply_change(punches_db, punches, change, users)

    assert_database_matches_the_model(punches_db, punches, users, story.map_first_user)


def fresh_users(db: PunchDatabase, story: Story, prefix: str) -> list[str]:
    """The story's users under ids no other example used; the first mapped to an employee if
    the story says so."""
    tag = uuid.uuid4().hex[:12]
    users = [f"{prefix}-{tag}-{n}" for n in range(len(story.users))]
    if story.map_first_user:
        db.execute("INSERT INTO equipe (nom, timemoto_user_id) VALUES ('X', $1)", users[0])
    return users


def assert_database_matches_the_model(
    db: PunchDatabase, punches: list[Punch], users: list[str], map_first_user: bool
) -> None:
    """The months, each punch's reason and day, and the mapped employee's minutes, as the
    reference model computes them from `punches`."""
    expected = monthly_summaries(punches)
    assert db.summaries(users) == expected
    assert_reasons_and_days(db, punches, users)
    if map_first_user:
        months = [s for s in expected if s.timemoto_user_id == users[0]]
        minutes = months[-1].minutes_travaillees if months else 0
        stored = db.fetch(
            "SELECT minutes_travaillees_mois, temps_travaille_mois FROM equipe"
            " WHERE timemoto_user_id = $1",
            users[0],
        )
        assert tuple(stored[0]) == (minutes, round(Decimal(minutes) / 60, 2))
        # What the ERP reads: its day and month rows of the mapped employee (docs/contract.md §10).
        mapped = {users[0]}
        assert stored_days(db.fetch, mapped) == expected_days(punches, mapped)
        assert stored_months(db.fetch, mapped) == expected_months(punches, mapped)


def assert_reasons_and_days(db: PunchDatabase, punches: list[Punch], users: list[str]) -> None:
    """Per punch and per day, the database says what the model says."""
    # Punches equal on the model's order key are told apart by event_id in the database: given
    # in event_id order, the model's stable sort puts them in the database's order.
    in_db_order = sorted(punches, key=lambda p: p.event_id)
    assert db.reasons(users) == {
        p.event_id: (a.motif_anomalie, a.pause_us) for p, a in attributed(in_db_order)
    }
    assert db.days(users) == daily_summaries(in_db_order)


async def _deliver_concurrently(url: str, shares: list[list[Punch]]) -> None:
    async def deliver(share: list[Punch]) -> None:
        connection = await asyncpg.connect(url, timeout=10)
        try:
            for made in share:  # one transaction per punch, as the service commits them
                await connection.execute(INSERT_SQL, *row(made))
        finally:
            await connection.close()

    await asyncio.gather(*(deliver(share) for share in shares))


def test_concurrent_deliveries_give_the_same_months(
    punches_db: PunchDatabase, database_url: str
) -> None:
    """Four connections deliver the punches of the same users at once, in random order."""
    rng = random.Random(20261130)
    tag = uuid.uuid4().hex[:12]
    users = [f"conc-{tag}-{n}" for n in range(3)]
    punches: list[Punch] = []
    for user in users:
        instant = BASES[rng.randrange(len(BASES))]
        for _ in range(60):
            instant += timedelta(seconds=rng.choice([0, 60, 1800, 4 * 3600, 9 * 3600]))
            punches.append(at(user, rng.choice(KINDS[:2] * 3 + KINDS), instant, rng.choice(ZONES)))
    deliveries = punches + rng.sample(punches, 20)  # some delivered twice, on another connection
    rng.shuffle(deliveries)
    asyncio.run(_deliver_concurrently(database_url, [deliveries[i::4] for i in range(4)]))
    assert punches_db.summaries(users) == monthly_summaries(punches)
    assert_reasons_and_days(punches_db, punches, users)


# Multi-row statements (issue 12): the trigger recomputes once per statement, whatever the
# statement holds: punches of several users, in any order, duplicates, corrections of several
# punches at once.

ARRIVALS = ["shuffled", "chronological", "reversed"]


@dataclass(frozen=True)
class BatchedStory:
    story: Story  # the users' punches (its own changes are not used)
    arrival: str  # the order of the deliveries: shuffled, chronological, reversed
    sizes: list[int]  # the sizes of the insert statements, in turn (the last takes the rest)
    changes: list[list[Change]]  # each list in one UPDATE and one DELETE statement


batched_stories = st.builds(
    BatchedStory,
    story=stories,
    arrival=st.sampled_from(ARRIVALS),
    sizes=st.lists(st.sampled_from([1, 1, 2, 3, 5, 8, 13, 32]), min_size=1, max_size=12),
    changes=st.lists(st.lists(changes, min_size=1, max_size=6), max_size=3),
)


def arrived(deliveries: list[Punch], arrival: str, seed: int) -> list[Punch]:
    if arrival == "shuffled":
        shuffled = list(deliveries)
        random.Random(seed).shuffle(shuffled)
        return shuffled
    in_order = sorted(deliveries, key=lambda p: p.horodatage)  # stable: duplicates adjacent
    return in_order if arrival == "chronological" else in_order[::-1]


def changed(target: Punch, change: Change, users: list[str]) -> Punch:
    """The punch as `change` leaves it (not a delete)."""
    if change.kind == "move":
        return at(
            target.timemoto_user_id,
            target.type_pointage,
            target.horodatage + timedelta(seconds=change.seconds),
            target.fuseau_horaire,
            ignore=target.ignore,
            event_id=target.event_id,
        )
    if change.kind == "retype":
        return replace(target, type_pointage=change.new_type)
    if change.kind == "reassign":
        other = users[(users.index(target.timemoto_user_id) + 1) % len(users)]
        return replace(target, timemoto_user_id=other)
    return replace(target, ignore=not target.ignore)


def apply_change_batch(
    db: PunchDatabase, punches: list[Punch], batch: list[Change], users: list[str]
) -> list[Punch]:
    """The changes (one per punch: a later one for the same punch is dropped) on the database in
    one UPDATE, then one DELETE statement, and on the model's list alike."""
    chosen: dict[int, Change] = {}
    for change in batch:
        if punches:
            chosen.setdefault(change.target % len(punches), change)
    result = list(punches)
    updated = [i for i, change in chosen.items() if change.kind != "delete"]
    deleted = {i for i, change in chosen.items() if change.kind == "delete"}
    for i in updated:
        result[i] = changed(punches[i], chosen[i], users)
    if updated:
        db.update_many([result[i] for i in updated])
    if deleted:
        db.delete_many([punches[i].event_id for i in deleted])
    return [p for i, p in enumerate(result) if i not in deleted]


CHANGE_KINDS = [
    Change("move", 0, 3600, "entree"),
    Change("move", 0, -86_400, "entree"),
    Change("retype", 0, 0, "sortie"),
    Change("retype", 0, 0, "debut_pause"),
    Change("toggle_ignore", 0, 0, "entree"),
    Change("reassign", 0, 0, "entree"),
]


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batched=batched_stories)
def test_multi_row_statements_equal_the_model(
    punches_db: PunchDatabase, batched: BatchedStory
) -> None:
    story = batched.story
    users = fresh_users(punches_db, story, "lots")
    punches, deliveries = punches_of(story, users)
    punches_db.insert_batches(arrived(deliveries, batched.arrival, story.order_seed), batched.sizes)
    for batch in batched.changes:
        punches = apply_change_batch(punches_db, punches, batch, users)

    assert_database_matches_the_model(punches_db, punches, users, story.map_first_user)


def random_history(rng: random.Random, user: str, count: int) -> list[Punch]:
    instant = BASES[rng.randrange(len(BASES))]
    punches = []
    for _ in range(count):
        instant += timedelta(seconds=rng.choice([0, 60, 1800, 4 * 3600, 9 * 3600, 30 * 3600]))
        kind = rng.choice(KINDS[:2] * 3 + KINDS)
        punches.append(at(user, kind, instant, rng.choice(ZONES), ignore=rng.random() < 0.05))
    return punches


async def _insert_in_batches(url: str, share: list[Punch], rng: random.Random) -> None:
    """One connection: statements of 1 to 32 punches, each listed by user as the service does."""
    connection = await asyncpg.connect(url, timeout=10)
    try:
        start = 0
        while start < len(share):
            batch = share[start : start + rng.choice([1, 2, 5, 13, 32])]
            start += len(batch)
            batch = sorted(batch, key=lambda p: p.timemoto_user_id)
            await connection.execute(INSERT_MANY_SQL, *columns(batch))
    finally:
        await connection.close()


async def _correct_in_batches(
    url: str, corrections: list[tuple[list[Punch], list[str]]], users: list[str]
) -> None:
    """One connection: each correction in one transaction that first takes the users' locks in
    one order (as the service does), then updates several punches, then deletes several."""
    connection = await asyncpg.connect(url, timeout=10)
    try:
        for updated, deleted in corrections:
            async with connection.transaction():
                await connection.execute(LOCK_USERS_SQL, users)
                if updated:
                    await connection.execute(UPDATE_MANY_SQL, *as_updated(updated))
                if deleted:
                    await connection.execute(DELETE_MANY_SQL, deleted)
    finally:
        await connection.close()


def test_concurrent_multi_row_statements_give_the_same_months(
    punches_db: PunchDatabase, database_url: str
) -> None:
    """Four connections insert the punches of the same users in statements of up to 32 rows;
    then, while three connections insert more (and deliver some again), a fourth corrects the
    first ones several at a time."""
    rng = random.Random(20261201)
    tag = uuid.uuid4().hex[:12]
    users = [f"lots-conc-{tag}-{n}" for n in range(5)]
    first: list[Punch] = []
    later: list[Punch] = []
    for user in users:
        history = random_history(rng, user, 120)
        first += history[:80]
        later += history[80:]

    deliveries = first + rng.sample(first, 30)
    rng.shuffle(deliveries)
    shares = [deliveries[i::4] for i in range(4)]
    seeds = [rng.random() for _ in shares]

    async def phase_one() -> None:
        await asyncio.gather(
            *(
                _insert_in_batches(database_url, share, random.Random(seed))
                for share, seed in zip(shares, seeds, strict=True)
            )
        )

    asyncio.run(phase_one())

    model = list(first)
    corrections: list[tuple[list[Punch], list[str]]] = []
    for _ in range(12):
        indices = rng.sample(range(len(model)), 6)
        updates = [changed(model[i], rng.choice(CHANGE_KINDS), users) for i in indices[:4]]
        for i, punch in zip(indices[:4], updates, strict=True):
            model[i] = punch
        deleted = [model[i].event_id for i in indices[4:]]
        model = [p for p in model if p.event_id not in deleted]
        corrections.append((updates, deleted))
    redelivered = later + rng.sample(first, 20)  # deleted ones stay deleted, moved ones moved
    rng.shuffle(redelivered)

    async def phase_two() -> None:
        await asyncio.gather(
            _correct_in_batches(database_url, corrections, users),
            *(
                _insert_in_batches(database_url, redelivered[i::3], random.Random(i))
                for i in range(3)
            ),
        )

    asyncio.run(phase_two())
    punches = model + later
    assert punches_db.summaries(users) == monthly_summaries(punches)
    assert_reasons_and_days(punches_db, punches, users)
