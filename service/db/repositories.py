"""Advanced Alchemy repositories over the pointage tables: every statement the service runs on
them, typed by the models (no SQL text outside the schema file)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Text,
    bindparam,
    cast,
    delete,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.types import TypeEngine

from service.db.models import Base, Pointage, PointageEvenement
from service.domain.corrections import CORRECTION_EVENTS, UNAPPLIED, Candidate, ClockingRef
from service.domain.delivery import Delivery, Punch


def _names_clocking(data: Any, ref: ClockingRef) -> ColumnElement[bool]:
    """`payload.data` names the clocking `ref` by `timeInserted` or `recordHash`."""
    keys = []
    if ref.time_inserted is not None:
        keys.append(data["timeInserted"].astext == ref.time_inserted)
    if ref.record_hash is not None:
        keys.append(data["recordHash"].astext == str(ref.record_hash))
    return or_(*keys)


# The hot statement: a batch of punches as one array per column, unnested into one INSERT. Its
# text never changes with the batch's size, so it is compiled once and prepared once per
# connection (a multi-row VALUES list is a new statement for each size, and costs 5x the CPU).
_PUNCH_COLUMNS: tuple[tuple[str, TypeEngine[Any]], ...] = (
    ("event_id", Text()),
    ("timemoto_user_id", Text()),
    ("type_pointage", Text()),
    ("horodatage", DateTime(timezone=True)),
    ("horodatage_brut", DateTime(timezone=True)),
    ("fuseau_horaire", Text()),
    ("date_travail", Date()),
    ("ignore", Boolean()),
    ("payload", Text()),  # JSON text, cast to jsonb below
    ("recu_le", DateTime(timezone=True)),
)
_ROWS = (
    func.unnest(*(bindparam(name, type_=ARRAY(type_)) for name, type_ in _PUNCH_COLUMNS))
    .table_valued(*(name for name, _ in _PUNCH_COLUMNS))
    .render_derived(name="batch")
)


def _insert_punches(rows: Any, where: ColumnElement[bool] | None = None) -> ReturningInsert[Any]:
    """INSERT INTO pointage_horodatage the punch columns of `rows` (those `where` allows), the
    delivery ids stored already skipped; RETURNING the ids added."""
    chosen = select(
        *(
            cast(rows.c[name], JSONB) if name == "payload" else rows.c[name]
            for name, _ in _PUNCH_COLUMNS
        )
    )
    return (
        insert(Base.metadata.tables["pointage_horodatage"])  # Core: no ORM bulk-insert machinery
        .from_select(
            [name for name, _ in _PUNCH_COLUMNS],
            chosen if where is None else chosen.where(where),
            include_defaults=False,  # the trigger owns the other columns
        )
        .on_conflict_do_nothing(index_elements=[Pointage.event_id])
        .returning(Pointage.event_id)
    )


_ADD_PUNCHES = _insert_punches(_ROWS)

# The fast path of the group commit: the same insert, run as a statement of its own (its own
# transaction, one round trip), leaving out the punches of users a correction waits for (see
# pointage_correction_en_attente in the schema). Its rows: each punch added, with false; each
# left out, with true. Rows stay in the order given, so the users' locks are taken in that order.
_BATCH = select(
    *_ROWS.c,
    func.pointage_correction_en_attente(_ROWS.c.timemoto_user_id, type_=Boolean).label(
        "en_attente"
    ),
).cte("lot")
_ADDED = _insert_punches(_BATCH, _BATCH.c.en_attente.is_(False)).cte("ajout")
_ADD_PUNCHES_UNLESS_WAITING = union_all(
    select(_ADDED.c.event_id, false()),
    select(_BATCH.c.event_id, true()).where(_BATCH.c.en_attente),
)


# The unapplied corrections of a user, as pointage_evenement_en_attente_idx has them: its
# expression and predicate as literals (parameters there would keep a generic plan, which a
# prepared statement gets after five runs, off the index).
_WAITING_USER = PointageEvenement.payload.op("->")(literal_column("'data'")).op(
    "->>", return_type=Text()
)(literal_column("'userId'"))
_UNAPPLIED = PointageEvenement.statut == literal_column(f"'{UNAPPLIED}'")

# Run for each batch written in a transaction with its corrections: `= ANY(array)`, not
# `IN (...)` (an IN list is a new statement for each length), so it is prepared once per
# connection.
_USERS_WAITING = (
    select(_WAITING_USER)
    .distinct()
    .where(
        _UNAPPLIED,
        _WAITING_USER == func.any(bindparam("users", type_=ARRAY(Text()))),  # noqa: SIM300 - a column
    )
)


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _columns(punches: Sequence[tuple[Punch, datetime]]) -> dict[str, list[Any]]:
    """The batch statements' parameters: one array per column."""
    columns: dict[str, list[Any]] = {name: [] for name, _ in _PUNCH_COLUMNS}
    for punch, received_at in punches:
        for name, _ in _PUNCH_COLUMNS[:-2]:
            columns[name].append(getattr(punch, name))
        columns["payload"].append(_json_text(punch.payload))
        columns["recu_le"].append(received_at)
    return columns


class PointageRepository(SQLAlchemyAsyncRepository[Pointage]):
    model_type = Pointage

    async def add_punches(self, punches: Sequence[tuple[Punch, datetime]]) -> set[str]:
        """Insert the punches whose delivery id is not stored yet, in one statement; the ids of
        those added.

        The unique key on `event_id` decides, so two concurrent deliveries of one id cannot both
        insert (no read-then-write race); a deleted punch's id is refused by the trigger.
        """
        return set((await self.session.scalars(_ADD_PUNCHES, _columns(punches))).all())

    async def add_punches_unless_corrections_wait(
        self, punches: Sequence[tuple[Punch, datetime]]
    ) -> tuple[set[str], set[str]]:
        """`add_punches` for the users no correction waits for, on a session whose connection
        is in AUTOCOMMIT (the statement commits as it ends); the ids added, and the ids left out
        because a correction of their user waits (write those with `add_punches`, then apply
        the corrections, in one transaction)."""
        rows = (await self.session.execute(_ADD_PUNCHES_UNLESS_WAITING, _columns(punches))).all()
        added = {event_id for event_id, waits in rows if not waits}
        return added, {event_id for event_id, waits in rows if waits}

    async def lock_user_of(self, document: dict[str, Any]) -> None:
        """Take the lock the trigger takes for a new punch of this user, so that a correction
        and the punch it names, committed at the same time, see each other: whichever comes
        second waits for the first and then finds it (READ COMMITTED: a fresh snapshot)."""
        data = document.get("data")
        user_id = data.get("userId") if isinstance(data, dict) else None
        if isinstance(user_id, str):
            await self.session.execute(select(func.pointage_verrouiller(user_id)))

    async def candidates(self, ref: ClockingRef) -> list[Candidate]:
        """The user's stored punches that `ref` may name, with the keys read from their payload."""
        data = Pointage.payload["data"]
        statement = select(
            Pointage.id, data["timeInserted"].astext, data["recordHash"].astext
        ).where(Pointage.timemoto_user_id == ref.user_id, _names_clocking(data, ref))
        rows = await self.session.execute(statement)
        return [Candidate(row[0], row[1], _int_or_none(row[2])) for row in rows]

    async def remove(self, pointage_id: int) -> None:
        await self.session.execute(delete(Pointage).where(Pointage.id == pointage_id))

    async def correct(self, pointage_id: int, punch: Punch) -> None:
        """Give a stored punch what a correction says (the trigger redoes the worked time)."""
        await self.session.execute(
            update(Pointage)
            .where(Pointage.id == pointage_id)
            .values(
                type_pointage=punch.type_pointage,
                horodatage=punch.horodatage,
                horodatage_brut=punch.horodatage_brut,
                fuseau_horaire=punch.fuseau_horaire,
                date_travail=punch.date_travail,
                ignore=punch.ignore,
            )
        )


class PointageEvenementRepository(SQLAlchemyAsyncRepository[PointageEvenement]):
    model_type = PointageEvenement

    async def add_event(self, delivery: Delivery, received_at: datetime, statut: str) -> bool:
        """Keep a delivery that is not a new punch; True unless its id was already kept."""
        statement = (
            insert(PointageEvenement)
            .values(
                event_id=delivery.event_id,
                event=delivery.event,
                statut=statut,
                payload=delivery.document,
                recu_le=received_at,
            )
            .on_conflict_do_nothing(index_elements=[PointageEvenement.event_id])
            .returning(PointageEvenement.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def users_with_waiting_corrections(self, user_ids: set[str]) -> set[str]:
        """Which of these users have a correction waiting for its punch (one indexed query for a
        whole batch; nearly always none)."""
        if not user_ids:
            return set()
        return set((await self.session.scalars(_USERS_WAITING, {"users": list(user_ids)})).all())

    async def waiting_corrections(self, ref: ClockingRef) -> Sequence[dict[str, Any]]:
        """Unapplied corrections naming this clocking, in order of arrival (TimeMoto does not
        promise that a correction comes after its punch)."""
        data = PointageEvenement.payload["data"]
        statement = (
            select(PointageEvenement.payload)
            .where(
                _UNAPPLIED,
                PointageEvenement.event.in_(sorted(CORRECTION_EVENTS)),
                _WAITING_USER == ref.user_id,  # noqa: SIM300 - a column
                _names_clocking(data, ref),
            )
            .order_by(PointageEvenement.recu_le, PointageEvenement.id)
        )
        return (await self.session.scalars(statement)).all()

    async def set_outcome(
        self, event_id: str, statut: str, pointage_id: int | None, motif: str | None
    ) -> None:
        await self.session.execute(
            update(PointageEvenement)
            .where(PointageEvenement.event_id == event_id)
            .values(statut=statut, pointage_id=pointage_id, motif=motif)
        )


def _int_or_none(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None
