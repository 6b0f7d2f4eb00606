"""What the status page reads from the database (docs/contract.md §6), in one read-only snapshot.

Reads only, each bounded by an index so that the page answers in milliseconds with 100,000
punches (`python -m bench status` runs them under EXPLAIN ANALYZE):

- the last delivery received (the clockings `pointage_horodatage` and the inbox
  `pointage_evenement`, by `recu_le`), and the last punch of each location
  (`data.locationName`, a skip scan: one index probe per location);
- deliveries per hour over 48 hours (`recu_le` range);
- the TimeMoto users not mapped to `equipe` (from `pointage_resume_mensuel`, one row per user and
  month, then each user's first and last punch by
  `pointage_horodatage_utilisateur_horodatage_idx`);
- this month's anomalies per employee (`pointage_resume_mensuel`, and the reasons by the same
  index).

The statements are spelled out in SQL (not built with Core as the write path is) so that what the
bench explains is exactly what runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from advanced_alchemy.filters import LimitOffset
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from service.db.models import Pointage, PointageEvenement
from service.db.repositories import PointageEvenementRepository, PointageRepository
from service.domain.timemoto_export import IMPORT_PREFIX

HOURS = 48

# The indexes these reads want (proposed for sql/schema_pointage.sql; see README "Status page").
PROPOSED_INDEXES = (
    "CREATE INDEX IF NOT EXISTS pointage_horodatage_recu_le_idx ON pointage_horodatage (recu_le)",
    "CREATE INDEX IF NOT EXISTS pointage_evenement_recu_le_idx ON pointage_evenement (recu_le)",
    "CREATE INDEX IF NOT EXISTS pointage_horodatage_lieu_recu_le_idx"
    " ON pointage_horodatage ((payload -> 'data' ->> 'locationName'), recu_le)",
    "CREATE INDEX IF NOT EXISTS pointage_horodatage_anomalie_jour_idx"
    " ON pointage_horodatage (timemoto_user_id, jour_rattache) INCLUDE (motif_anomalie)"
    " WHERE anomalie",
)

LAST_PUNCH = text("""
SELECT p.recu_le, p.timemoto_user_id, p.type_pointage, p.horodatage, p.fuseau_horaire,
       p.payload -> 'data' ->> 'userFirstName' AS prenom,
       p.payload -> 'data' ->> 'userLastName' AS nom,
       p.payload -> 'data' ->> 'userEmployeeNumber' AS matricule,
       p.payload -> 'data' ->> 'locationName' AS lieu,
       e.nom AS equipe_nom, e.prenom AS equipe_prenom
  FROM pointage_horodatage p LEFT JOIN equipe e ON e.id = p.equipe_id
 WHERE p.event_id NOT LIKE 'import:%'
 ORDER BY p.recu_le DESC
 LIMIT 1
""")

LAST_EVENT = text("""
SELECT recu_le, event FROM pointage_evenement ORDER BY recu_le DESC LIMIT 1
""")

# One index probe per location (a "loose index scan"): the locations in order, then each one's
# latest punch. A punch with no location is the NULL row.
PER_LOCATION = text("""
WITH RECURSIVE lieux(lieu) AS (
    (SELECT payload -> 'data' ->> 'locationName' FROM pointage_horodatage
      WHERE payload -> 'data' ->> 'locationName' IS NOT NULL
      ORDER BY payload -> 'data' ->> 'locationName' LIMIT 1)
    UNION ALL
    SELECT (SELECT payload -> 'data' ->> 'locationName' FROM pointage_horodatage
             WHERE payload -> 'data' ->> 'locationName' > lieux.lieu
             ORDER BY payload -> 'data' ->> 'locationName' LIMIT 1)
      FROM lieux WHERE lieux.lieu IS NOT NULL
)
SELECT l.lieu, d.recu_le, d.timemoto_user_id, d.prenom, d.nom, d.type_pointage
  FROM (SELECT lieu FROM lieux WHERE lieu IS NOT NULL LIMIT 100) l
 CROSS JOIN LATERAL (
     SELECT p.recu_le, p.timemoto_user_id, p.type_pointage,
            p.payload -> 'data' ->> 'userFirstName' AS prenom,
            p.payload -> 'data' ->> 'userLastName' AS nom
       FROM pointage_horodatage p
      WHERE p.payload -> 'data' ->> 'locationName' = l.lieu
      ORDER BY p.payload -> 'data' ->> 'locationName' DESC, p.recu_le DESC
      LIMIT 1) d
 ORDER BY d.recu_le DESC
""")

PER_HOUR = text("""
SELECT date_trunc('hour', recu_le) AS heure, count(*) AS n FROM (
    SELECT recu_le FROM pointage_horodatage
     WHERE recu_le >= :since AND event_id NOT LIKE 'import:%'
    UNION ALL
    SELECT recu_le FROM pointage_evenement WHERE recu_le >= :since
) livraisons
GROUP BY 1 ORDER BY 1
""")

UNMAPPED = text("""
SELECT u.timemoto_user_id, u.nb_pointages, premier.horodatage AS premier,
       dernier.horodatage AS dernier, dernier.prenom, dernier.nom, dernier.matricule,
       candidat.id AS equipe_candidate
  FROM (SELECT timemoto_user_id, sum(nb_pointages)::integer AS nb_pointages
          FROM pointage_resume_mensuel WHERE equipe_id IS NULL
         GROUP BY timemoto_user_id) u
 CROSS JOIN LATERAL (
     SELECT horodatage FROM pointage_horodatage WHERE timemoto_user_id = u.timemoto_user_id
      ORDER BY horodatage LIMIT 1) premier
 CROSS JOIN LATERAL (
     SELECT horodatage, payload -> 'data' ->> 'userFirstName' AS prenom,
            payload -> 'data' ->> 'userLastName' AS nom,
            payload -> 'data' ->> 'userEmployeeNumber' AS matricule
       FROM pointage_horodatage WHERE timemoto_user_id = u.timemoto_user_id
      ORDER BY horodatage DESC LIMIT 1) dernier
  LEFT JOIN LATERAL (
     SELECT e.id FROM equipe e
      WHERE e.timemoto_user_id IS NULL
        AND lower(e.nom) = lower(dernier.nom) AND lower(e.prenom) = lower(dernier.prenom)
      ORDER BY e.id LIMIT 1) candidat ON true
 ORDER BY dernier.horodatage DESC
 LIMIT 200
""")

ANOMALIES = text("""
SELECT r.timemoto_user_id, r.equipe_id, r.nb_anomalies, r.nb_pointages,
       coalesce(e.nom, dernier.nom) AS nom, coalesce(e.prenom, dernier.prenom) AS prenom,
       motifs.entree_repetee, motifs.sortie_sans_poste, motifs.poste_trop_long
  FROM pointage_resume_mensuel r
  LEFT JOIN equipe e ON e.id = r.equipe_id
 CROSS JOIN LATERAL (
     SELECT payload -> 'data' ->> 'userFirstName' AS prenom,
            payload -> 'data' ->> 'userLastName' AS nom
       FROM pointage_horodatage WHERE timemoto_user_id = r.timemoto_user_id
      ORDER BY horodatage DESC LIMIT 1) dernier
 CROSS JOIN LATERAL (
     SELECT count(*) FILTER (WHERE motif_anomalie = 'entree_repetee') AS entree_repetee,
            count(*) FILTER (WHERE motif_anomalie = 'sortie_sans_poste') AS sortie_sans_poste,
            count(*) FILTER (WHERE motif_anomalie = 'poste_trop_long') AS poste_trop_long
       FROM pointage_horodatage
      WHERE timemoto_user_id = r.timemoto_user_id
        AND anomalie AND jour_rattache >= :first AND jour_rattache < :next) motifs
 WHERE r.mois = :first AND r.nb_anomalies > 0
 ORDER BY r.nb_anomalies DESC, nom, prenom
 LIMIT 200
""")


@dataclass(frozen=True, slots=True)
class LastDelivery:
    received_at: datetime
    user_id: str | None
    name: str  # equipe's when mapped, else TimeMoto's
    employee_number: str | None
    location: str | None
    kind: str  # type_pointage, or the event's name for the inbox


@dataclass(frozen=True, slots=True)
class LocationLast:
    location: str
    received_at: datetime
    user_id: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class Unmapped:
    user_id: str
    name: str
    employee_number: str | None
    first_punch: datetime
    last_punch: datetime
    punches: int
    candidate_equipe_id: int | None  # an equipe row of the same name, not mapped yet

    @property
    def mapping_sql(self) -> str:
        """The statement that maps this user (the operator fills the id if none was found)."""
        quoted = self.user_id.replace("'", "''")
        where = str(self.candidate_equipe_id) if self.candidate_equipe_id is not None else "…"
        return f"UPDATE equipe SET timemoto_user_id = '{quoted}' WHERE id = {where};"


@dataclass(frozen=True, slots=True)
class EmployeeAnomalies:
    user_id: str
    equipe_id: int | None
    name: str
    anomalies: int
    punches: int
    reasons: dict[str, int]


@dataclass(frozen=True, slots=True)
class DatabaseFacts:
    last_delivery: LastDelivery | None
    per_location: list[LocationLast]
    hourly: dict[datetime, int]  # hour (UTC, truncated) → deliveries; hours without any absent
    unmapped: list[Unmapped]
    anomalies: list[EmployeeAnomalies]
    month: date  # the month of `anomalies` (first day)


def _name(first: str | None, last: str | None) -> str:
    return " ".join(part for part in (first, last) if part) or "(sans nom)"


async def read_status(session: AsyncSession, now: datetime, month: date) -> DatabaseFacts:
    """The database's facts for the page, in one read-only transaction of the session (it must
    not have begun); `month` is the first day of the workshop's month."""
    connection = await session.connection(execution_options={"postgresql_readonly": True})
    try:
        return await _read(connection, now, month)
    finally:
        await session.rollback()  # read only: nothing to keep


async def _read(
    connection: AsyncConnection,
    now: datetime,
    month: date,
) -> DatabaseFacts:
    since = (now - timedelta(hours=HOURS)).replace(minute=0, second=0, microsecond=0)
    punch = (await connection.execute(LAST_PUNCH)).mappings().first()
    event = (await connection.execute(LAST_EVENT)).mappings().first()
    last = _last_delivery(punch, event)
    per_location = [
        LocationLast(
            location=row["lieu"],
            received_at=row["recu_le"],
            user_id=row["timemoto_user_id"],
            name=_name(row["prenom"], row["nom"]),
            kind=row["type_pointage"],
        )
        for row in (await connection.execute(PER_LOCATION)).mappings()
    ]
    hourly = {
        row["heure"]: int(row["n"])
        for row in (await connection.execute(PER_HOUR, {"since": since})).mappings()
    }
    unmapped = [
        Unmapped(
            user_id=row["timemoto_user_id"],
            name=_name(row["prenom"], row["nom"]),
            employee_number=row["matricule"],
            first_punch=row["premier"],
            last_punch=row["dernier"],
            punches=int(row["nb_pointages"] or 0),
            candidate_equipe_id=row["equipe_candidate"],
        )
        for row in (await connection.execute(UNMAPPED)).mappings()
    ]
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    anomalies = [
        EmployeeAnomalies(
            user_id=row["timemoto_user_id"],
            equipe_id=row["equipe_id"],
            name=_name(row["prenom"], row["nom"]),
            anomalies=int(row["nb_anomalies"]),
            punches=int(row["nb_pointages"]),
            reasons={
                reason: int(row[reason])
                for reason in ("entree_repetee", "sortie_sans_poste", "poste_trop_long")
                if row[reason]
            },
        )
        for row in (
            await connection.execute(
                ANOMALIES,
                {"first": month, "next": next_month},
            )
        ).mappings()
    ]
    return DatabaseFacts(last, per_location, hourly, unmapped, anomalies, month)


def _last_delivery(punch: Any, event: Any) -> LastDelivery | None:
    if punch is None and event is None:
        return None
    if punch is not None and (event is None or punch["recu_le"] >= event["recu_le"]):
        mapped = punch["equipe_nom"] or punch["equipe_prenom"]
        return LastDelivery(
            received_at=punch["recu_le"],
            user_id=punch["timemoto_user_id"],
            name=_name(punch["equipe_prenom"], punch["equipe_nom"])
            if mapped
            else _name(punch["prenom"], punch["nom"]),
            employee_number=punch["matricule"],
            location=punch["lieu"],
            kind=punch["type_pointage"],
        )
    return LastDelivery(
        received_at=event["recu_le"],
        user_id=None,
        name="",
        employee_number=None,
        location=None,
        kind=event["event"],
    )


async def last_received(session: AsyncSession) -> datetime | None:
    """The latest `recu_le` of a delivered punch or an inbox event (where silence counts from)."""
    # Punches brought back from TimeMoto's export (`import:` ids) were not delivered: their
    # `recu_le` is the time of the import, which says nothing of TimeMoto calling.
    delivered = Pointage.event_id.not_like(f"{IMPORT_PREFIX}%")
    punches = await PointageRepository(session=session).list(
        delivered, LimitOffset(limit=1, offset=0), order_by=[(Pointage.recu_le, True)]
    )
    events = await PointageEvenementRepository(session=session).list(
        LimitOffset(limit=1, offset=0), order_by=[(PointageEvenement.recu_le, True)]
    )
    received = [found[0].recu_le for found in (punches, events) if found]
    return max(received) if received else None
