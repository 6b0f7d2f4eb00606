"""Punches for the worked-time tests, and the database side of them: one asyncpg connection on
its own event loop, inserting through the real trigger and reading back `pointage_resume`, the
anomaly reasons of `pointage` and the day rows of `v_pointage_jour`."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import date, datetime
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from service.domain.delivery import Punch
from service.domain.timemoto import TypePointage
from simulator.worktime_model import DaySummary, MonthSummary, local_date

_ids = itertools.count(1)

INSERT_SQL = """
INSERT INTO pointage_horodatage (event_id, timemoto_user_id, type_pointage, horodatage,
                                 horodatage_brut, fuseau_horaire, date_travail, ignore, payload)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
ON CONFLICT (event_id) DO NOTHING
"""

# Several punches in one statement, in the order given (the service's group commit lists them by
# user; a test may not).
INSERT_MANY_SQL = """
INSERT INTO pointage_horodatage (event_id, timemoto_user_id, type_pointage, horodatage,
                                 horodatage_brut, fuseau_horaire, date_travail, ignore, payload)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                     $6::text[], $7::date[], $8::boolean[], $9::jsonb[])
ON CONFLICT (event_id) DO NOTHING
"""

# Several punches given what they are now, in one statement (each row's every column is set).
UPDATE_MANY_SQL = """
UPDATE pointage_horodatage AS p
   SET timemoto_user_id = c.timemoto_user_id, type_pointage = c.type_pointage,
       horodatage = c.horodatage, date_travail = c.date_travail, ignore = c.ignore
  FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::date[], $6::boolean[])
       AS c (event_id, timemoto_user_id, type_pointage, horodatage, date_travail, ignore)
 WHERE p.event_id = c.event_id
"""

DELETE_MANY_SQL = "DELETE FROM pointage_horodatage WHERE event_id = ANY ($1::text[])"

# The users' locks in one order, as the service takes them before a correction.
LOCK_USERS_SQL = """
SELECT pointage_verrouiller(u) FROM (SELECT DISTINCT unnest($1::text[]) AS u ORDER BY 1) AS s
"""

SUMMARY_SQL = """
SELECT timemoto_user_id, mois, minutes_travaillees, jours_travailles, nb_pointages, nb_anomalies
  FROM pointage_resume_mensuel WHERE timemoto_user_id = ANY ($1::text[])
 ORDER BY timemoto_user_id, mois
"""

REASONS_SQL = """
SELECT event_id, motif_anomalie, anomalie, pause_us
  FROM pointage_horodatage WHERE timemoto_user_id = ANY ($1::text[]) AND NOT ignore
"""

DAYS_SQL = """
SELECT timemoto_user_id, date_travail, premiere_entree, derniere_sortie, minutes_pause,
       minutes_travaillees, nb_pointages, nb_anomalies
  FROM v_pointage_jour WHERE timemoto_user_id = ANY ($1::text[])
 ORDER BY timemoto_user_id, date_travail
"""


def punch(
    user: str,
    kind: TypePointage,
    local: str,
    zone: str = "Africa/Tunis",
    *,
    ignore: bool = False,
    fold: int = 0,
    event_id: str | None = None,
) -> Punch:
    """A punch at local wall-clock time `local` (ISO) in `zone`."""
    instant = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone), fold=fold)
    return at(user, kind, instant, zone, ignore=ignore, event_id=event_id)


def at(
    user: str,
    kind: TypePointage,
    instant: datetime,
    zone: str,
    *,
    ignore: bool = False,
    event_id: str | None = None,
) -> Punch:
    """A punch at an aware instant, seen from `zone`."""
    instant = instant.astimezone(ZoneInfo(zone))
    made = Punch(
        event_id=event_id or f"tm_test_{next(_ids):08d}",
        timemoto_user_id=user,
        type_pointage=kind,
        horodatage=instant,
        horodatage_brut=instant,
        fuseau_horaire=zone,
        date_travail=date.min,
        ignore=ignore,
        payload={},
    )
    return Punch(**{**asdict(made), "date_travail": local_date(made)})


def row(p: Punch) -> tuple[Any, ...]:
    return (
        p.event_id,
        p.timemoto_user_id,
        p.type_pointage,
        p.horodatage,
        p.horodatage_brut,
        p.fuseau_horaire,
        p.date_travail,
        p.ignore,
        "{}",
    )


def columns(punches: Sequence[Punch]) -> list[list[Any]]:
    """The rows of `punches` as INSERT_MANY_SQL's arrays, one per column."""
    return [list(column) for column in zip(*(row(p) for p in punches), strict=True)] or [[]] * 9


def as_updated(punches: Sequence[Punch]) -> list[list[Any]]:
    """`punches` as UPDATE_MANY_SQL's arrays."""
    return [
        [p.event_id for p in punches],
        [p.timemoto_user_id for p in punches],
        [p.type_pointage for p in punches],
        [p.horodatage for p in punches],
        [p.date_travail for p in punches],
        [p.ignore for p in punches],
    ]


class PunchDatabase:
    """A synchronous face on one connection, for tests that insert many punches quickly."""

    def __init__(self, url: str) -> None:
        self._runner = asyncio.Runner()
        self._connection: asyncpg.Connection = self._runner.run(asyncpg.connect(url, timeout=10))

    def run(self, coroutine: Any) -> Any:
        return self._runner.run(coroutine)

    def insert(self, punches: Iterable[Punch]) -> None:
        self.run(self._connection.executemany(INSERT_SQL, [row(p) for p in punches]))

    def insert_batches(self, punches: Sequence[Punch], sizes: Iterable[int]) -> None:
        """The punches in multi-row statements of the given sizes (the last takes the rest),
        in the order given, each statement its own transaction."""
        start = 0
        for size in itertools.chain(sizes, [len(punches)]):
            batch = punches[start : start + max(size, 1)]
            if not batch:
                break
            self.run(self._connection.execute(INSERT_MANY_SQL, *columns(batch)))
            start += len(batch)

    def update_many(self, punches: Sequence[Punch]) -> None:
        """Stored punches (by event_id) given what `punches` say they are, in one statement."""
        self.run(self._connection.execute(UPDATE_MANY_SQL, *as_updated(punches)))

    def delete_many(self, event_ids: Sequence[str]) -> None:
        self.run(self._connection.execute(DELETE_MANY_SQL, list(event_ids)))

    def execute(self, sql: str, *args: Any) -> None:
        self.run(self._connection.execute(sql, *args))

    def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return list(self.run(self._connection.fetch(sql, *args)))

    def summaries(self, users: Sequence[str]) -> list[MonthSummary]:
        return [MonthSummary(*r) for r in self.fetch(SUMMARY_SQL, list(users))]

    def reasons(self, users: Sequence[str]) -> dict[str, tuple[str | None, int]]:
        """Each punch not ignored: event_id -> (motif_anomalie, pause_us). Checks that `anomalie`
        says the same as the reason."""
        rows = self.fetch(REASONS_SQL, list(users))
        assert all(r["anomalie"] == (r["motif_anomalie"] is not None) for r in rows)
        return {r["event_id"]: (r["motif_anomalie"], r["pause_us"]) for r in rows}

    def days(self, users: Sequence[str]) -> list[DaySummary]:
        return [DaySummary(*r) for r in self.fetch(DAYS_SQL, list(users))]

    def close(self) -> None:
        self.run(self._connection.close())
        self._runner.close()

    def __enter__(self) -> PunchDatabase:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
