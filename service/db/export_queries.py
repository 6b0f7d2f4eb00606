"""What the month-end export reads (docs/contract.md §7): `pointage_resume` with the names, the view
`v_pointage_jour`, and the anomalous punches with their reason, in one read-only snapshot
(`read_payroll`). Reads only; the files are service/domain/payroll_files.py.

Names come from `equipe` when the TimeMoto user is mapped, else from the payload of the user's
latest punch of the month (`data.userFirstName`, `data.userLastName`); the employee number from
the same payload (`data.userEmployeeNumber`). A user's shift is open when its last `entree` or
`sortie` (punches not ignored, in the trigger's order) is an `entree`: that shift's date is given
so that the month it belongs to is provisional.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    and_,
    case,
    func,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from service.db.models import Equipe, Pointage, PointageResume
from service.domain.payroll import (
    AnomalyRecord,
    DayRecord,
    Month,
    MonthRecord,
    Payroll,
    Person,
    build_payroll,
)

# The view `v_pointage_jour` (sql/schema_pointage.sql creates it; nothing here creates anything).
v_pointage_jour = Table(
    "v_pointage_jour",
    MetaData(),
    Column("timemoto_user_id", Text),
    Column("equipe_id", Integer),
    Column("date_travail", Date),
    Column("premiere_entree", DateTime(timezone=False)),
    Column("derniere_sortie", DateTime(timezone=False)),
    Column("minutes_pause", Integer),
    Column("minutes_travaillees", Integer),
    Column("nb_pointages", Integer),
    Column("nb_anomalies", Integer),
)
jour = v_pointage_jour.c

ANCHORS = ("entree", "sortie")


def _in_month(column: Any, month: Month) -> Any:
    return and_(column >= month.first_day, column < month.next.first_day)


def _latest_first() -> tuple[Any, ...]:
    """The trigger's order of a user's punches (section 1 of the schema), newest first."""
    return (
        Pointage.horodatage.desc(),
        Pointage.rang.desc(),
        Pointage.fuseau_horaire.collate("C").desc(),
        Pointage.event_id.collate("C").desc(),
    )


def _months_statement(month: Month) -> Select[Any]:
    latest = (  # the month's latest punch: TimeMoto's names and employee number
        select(Pointage.payload["data"].label("data"))
        .where(
            Pointage.timemoto_user_id == PointageResume.timemoto_user_id,
            ~Pointage.ignore,
            _in_month(Pointage.jour_rattache, month),
        )
        .order_by(*_latest_first())
        .limit(1)
        .lateral("latest")
    )
    last_anchor = (  # an entree here is the user's open shift
        select(Pointage.type_pointage, Pointage.date_travail)
        .where(
            Pointage.timemoto_user_id == PointageResume.timemoto_user_id,
            ~Pointage.ignore,
            Pointage.type_pointage.in_(ANCHORS),
        )
        .order_by(*_latest_first())
        .limit(1)
        .lateral("last_anchor")
    )
    data = latest.c.data
    return (
        select(
            PointageResume.timemoto_user_id,
            PointageResume.equipe_id,
            Equipe.nom,
            Equipe.prenom,
            data["userLastName"].astext,
            data["userFirstName"].astext,
            data["userEmployeeNumber"].astext,
            PointageResume.minutes_travaillees,
            PointageResume.jours_travailles,
            PointageResume.nb_pointages,
            PointageResume.nb_anomalies,
            case(
                (last_anchor.c.type_pointage == "entree", last_anchor.c.date_travail),
                else_=None,
            ),
        )
        .select_from(PointageResume)
        .outerjoin(Equipe, Equipe.id == PointageResume.equipe_id)
        .outerjoin(latest, true())
        .outerjoin(last_anchor, true())
        .where(PointageResume.mois == month.first_day)
    )


class PayrollRepository(SQLAlchemyAsyncRepository[PointageResume]):
    model_type = PointageResume

    async def months(self, month: Month) -> list[MonthRecord]:
        """One record per TimeMoto user with a `pointage_resume` row that month."""
        rows = await self.session.execute(_months_statement(month))
        return [
            MonthRecord(
                person=Person.of(
                    user, equipe_id, (nom, prenom), (tm_nom, tm_prenom), matricule or None
                ),
                minutes_travaillees=minutes,
                jours_travailles=jours,
                nb_pointages=pointages,
                nb_anomalies=anomalies,
                open_shift_on=open_shift_on,
            )
            for (
                user,
                equipe_id,
                nom,
                prenom,
                tm_nom,
                tm_prenom,
                matricule,
                minutes,
                jours,
                pointages,
                anomalies,
                open_shift_on,
            ) in rows
        ]

    async def days(self, month: Month) -> list[DayRecord]:
        """The month's rows of `v_pointage_jour`."""
        statement = select(
            jour.timemoto_user_id,
            jour.date_travail,
            jour.premiere_entree,
            jour.derniere_sortie,
            jour.minutes_pause,
            jour.minutes_travaillees,
            jour.nb_pointages,
            jour.nb_anomalies,
        ).where(_in_month(jour.date_travail, month))
        return [DayRecord(*row) for row in await self.session.execute(statement)]

    async def anomalies(self, month: Month) -> list[AnomalyRecord]:
        """The month's anomalous punches (not ignored), with their local time and reason."""
        statement = select(
            Pointage.timemoto_user_id,
            Pointage.jour_rattache,
            func.timezone(Pointage.fuseau_horaire, Pointage.horodatage),
            Pointage.type_pointage,
            Pointage.motif_anomalie,
            Pointage.fuseau_horaire,
        ).where(
            Pointage.anomalie,
            ~Pointage.ignore,
            _in_month(Pointage.jour_rattache, month),
        )
        return [AnomalyRecord(*row) for row in await self.session.execute(statement)]


# -- the month, in one snapshot --------------------------------------------------------------


async def read_payroll(
    session: AsyncSession, month: Month, zone: ZoneInfo, now: datetime | None = None
) -> Payroll:
    """The month's three sheets from one consistent, read-only snapshot of the database (the
    session's transaction; it must not have begun)."""
    await session.connection(
        execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    )
    repository = PayrollRepository(session=session)
    months = await repository.months(month)
    days = await repository.days(month)
    anomalies = await repository.anomalies(month)
    await session.commit()
    return build_payroll(month, now or datetime.now(UTC), zone, months, days, anomalies)
