"""Whatever part of a history TimeMoto never delivered: the rest delivered in any order with
duplicates, then TimeMoto's export of the whole history reconciled with --apply while deliveries of
the missing punches still arrive, gives `pointage_resume_mensuel` equal to the reference model on
the whole history, each clocking stored once; a second apply changes nothing.

Random histories of several users in Africa/Tunis and Europe/Paris around DST changes and month
ends (night shifts, breaks, ignored clockings), one clocking a second at most per user (the
export's resolution). Each example uses fresh user ids on one shared database.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.db.engine import DatabaseTarget, create_engine, session_factory
from service.db.schema import schema_sql
from service.db.store import DeliveryStore
from service.domain.delivery import Punch
from service.domain.timemoto import TypePointage
from service.reconcile import Reconciliation, read_export, reconcile
from service.settings import Settings
from simulator.worktime_model import monthly_summaries
from tests.support.worktime import PunchDatabase, at

KINDS: list[TypePointage] = ["entree", "sortie", "debut_pause", "fin_pause"]
WORDS = {"entree": "In", "sortie": "Out", "debut_pause": "Break", "fin_pause": "Return"}
ZONES = ["Africa/Tunis", "Europe/Paris"]
BASES = [
    datetime(2026, 3, 28, 18, 0, tzinfo=UTC),  # Paris springs forward on 29 March
    datetime(2026, 10, 24, 18, 0, tzinfo=UTC),  # Paris falls back on 25 October
    datetime(2026, 1, 31, 17, 0, tzinfo=UTC),
]
GAPS = st.sampled_from([1, 37, 60, 900, 1800, 3600, 4 * 3600, 8 * 3600, 14 * 3600, 86_400])
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Draft:
    kind: TypePointage
    gap: int
    ignore: bool
    delivered: bool  # else TimeMoto never sent it
    twice: bool  # delivered twice
    late: bool  # a missing one delivered while the apply runs


drafts = st.builds(
    Draft,
    kind=st.sampled_from(KINDS[:2] * 3 + KINDS),
    gap=GAPS,
    ignore=st.integers(0, 9).map(lambda n: n == 0),
    delivered=st.booleans(),
    twice=st.integers(0, 4).map(lambda n: n == 0),
    late=st.integers(0, 3).map(lambda n: n == 0),
)


@dataclass(frozen=True)
class Story:
    users: list[list[Draft]]
    bases: list[datetime]
    zones: list[str]
    order_seed: int


stories = st.builds(
    Story,
    users=st.lists(st.lists(drafts, min_size=1, max_size=12), min_size=1, max_size=3),
    bases=st.lists(st.sampled_from(BASES), min_size=3, max_size=3),
    zones=st.lists(st.sampled_from(ZONES), min_size=3, max_size=3),
    order_seed=st.integers(0, 2**32 - 1),
)


@dataclass
class History:
    punches: list[Punch]
    deliveries: list[Punch]  # before the export is reconciled, duplicates included
    late: list[Punch]  # delivered during the apply


def history_of(story: Story, users: list[str]) -> History:
    made = History([], [], [])
    for index, (user, drafts_of_user) in enumerate(zip(users, story.users, strict=False)):
        instant = story.bases[index]
        for draft in drafts_of_user:
            instant += timedelta(seconds=draft.gap)
            punch = at(user, draft.kind, instant, story.zones[index], ignore=draft.ignore)
            made.punches.append(punch)
            if draft.delivered:
                made.deliveries += [punch, punch] if draft.twice else [punch]
            elif draft.late:
                made.late.append(punch)
    random.Random(story.order_seed).shuffle(made.deliveries)
    return made


def export_csv(path: Path, punches: list[Punch]) -> Path:
    """TimeMoto's export of these clockings, French dates, in its Reports' order (by time)."""
    lines = ["User ID;Date;Time;Clocking type;Time zone;Ignored"]
    for p in sorted(punches, key=lambda p: p.horodatage):
        local = p.horodatage.astimezone(ZoneInfo(p.fuseau_horaire))
        lines.append(
            f"{p.timemoto_user_id};{local:%d/%m/%Y};{local:%H:%M:%S};{WORDS[p.type_pointage]};"
            f"{p.fuseau_horaire};{'yes' if p.ignore else 'no'}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def punches_db(database_url: str) -> Iterator[PunchDatabase]:
    with PunchDatabase(database_url) as db:
        db.execute(schema_sql())
        yield db


async def deliver_then_reconcile(
    url: str, history: History, export: Path
) -> tuple[Reconciliation, list[Any], Reconciliation]:
    config = Settings(webhook_secrets=("s",), database_url=url)
    engine = create_engine(DatabaseTarget.from_url(url, config), 10)
    try:
        store = DeliveryStore(session_factory(engine))
        for fate in await store.record_punches([(p, NOW) for p in history.deliveries], 16):
            assert fate in ("stored", "duplicate"), fate
        exported = read_export(export, config.working_timezone)
        applied, late = await asyncio.gather(
            reconcile(config, exported, None, None, apply=True),
            store.record_punches([(p, NOW) for p in history.late], 4),
        )
        again = await reconcile(config, exported, None, None, apply=True)
        return applied, list(late), again
    finally:
        await engine.dispose()


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(story=stories)
def test_the_export_reconciled_gives_the_model_on_the_whole_history(
    punches_db: PunchDatabase, database_url: str, tmp_path_factory: pytest.TempPathFactory,
    story: Story,
) -> None:  # fmt: skip
    users = [f"rec-{uuid.uuid4().hex[:12]}" for _ in story.users]
    history = history_of(story, users)
    export = export_csv(tmp_path_factory.mktemp("export") / "export.csv", history.punches)

    applied, late, again = asyncio.run(deliver_then_reconcile(database_url, history, export))

    never_delivered = len(history.punches) - len({p.event_id for p in history.deliveries})
    # the late deliveries race the apply's read: what it finds missing is between
    assert never_delivered - len(history.late) <= applied.comparison.count("missing")
    assert applied.comparison.count("missing") <= never_delivered
    assert applied.comparison.count("extra") == applied.comparison.count("type") == 0
    # each late punch: stored by its delivery or by the import, never both
    assert applied.stored + late.count("stored") == never_delivered
    assert again.comparison.count("missing") == 0 and again.stored == 0
    stored = punches_db.fetch(
        "SELECT count(*) AS n FROM pointage_horodatage WHERE timemoto_user_id = ANY($1::text[])",
        users,
    )
    assert stored[0]["n"] == len(history.punches)
    assert punches_db.summaries(users) == monthly_summaries(history.punches)
