"""Month-end payroll (docs/contract.md §7): what the export holds, in the ERP's French words. No
I/O.

The figures come from the database as they are (`pointage_resume`, `v_pointage_jour`, the
anomalous `pointage` rows); this module names who each row is about, decides `provisoire`, orders
the rows and describes each sheet's columns. Rendering them (xlsx, csv) is
service/domain/payroll_files.py; reading them, service/db/export_queries.py.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

FIRST_YEAR, LAST_YEAR = 1900, 2200  # as far as a punch's instant may go (docs/contract.md §1)
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class MonthError(ValueError):
    """Not a month the export can be asked for; the message says what is expected."""


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """`YYYY-MM`, e.g. `2026-11`."""
        match = _MONTH.fullmatch(text.strip())
        if match is None or not 1 <= int(match[2]) <= 12:
            raise MonthError(f"the month must be written YYYY-MM (e.g. 2026-11), not {text!r}")
        year = int(match[1])
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise MonthError(f"the month must lie between {FIRST_YEAR} and {LAST_YEAR}")
        return cls(year, int(match[2]))

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def is_over(self, now: datetime, zone: ZoneInfo) -> bool:
        """The month's last day has ended in `zone` (the workshop's time)."""
        return now.astimezone(zone).date() >= self.next.first_day

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


# -- who a row is about ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    """A TimeMoto user, named by the ERP (`equipe`) when mapped, else by TimeMoto itself."""

    timemoto_user_id: str
    equipe_id: int | None
    nom: str
    prenom: str
    rattache: bool  # mapped to an `equipe` row: the names are the ERP's
    matricule: str | None  # TimeMoto's `data.userEmployeeNumber`

    @classmethod
    def of(
        cls,
        timemoto_user_id: str,
        equipe_id: int | None,
        equipe_names: tuple[str | None, str | None],
        timemoto_names: tuple[str | None, str | None],
        matricule: str | None,
    ) -> Person:
        """`equipe_names` and `timemoto_names` are (nom, prénom); the ERP's win when mapped."""
        nom, prenom = equipe_names if equipe_id is not None else timemoto_names
        return cls(
            timemoto_user_id, equipe_id, nom or "", prenom or "", equipe_id is not None, matricule
        )

    @property
    def sort_key(self) -> tuple[str, str, str]:
        """Alphabetical as a person reads it: accents and case do not move a name."""
        return (_folded(self.nom), _folded(self.prenom), self.timemoto_user_id)


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# -- what the database gives -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthRecord:
    """A `pointage_resume` row, its person, and where the user's shift still open began."""

    person: Person
    minutes_travaillees: int
    jours_travailles: int
    nb_pointages: int
    nb_anomalies: int
    open_shift_on: date | None  # the work date of the user's open shift, if one is open


@dataclass(frozen=True, slots=True)
class DayRecord:
    """A `v_pointage_jour` row."""

    timemoto_user_id: str
    date_travail: date
    premiere_entree: datetime | None  # local wall-clock time, naive
    derniere_sortie: datetime | None
    minutes_pause: int
    minutes_travaillees: int
    nb_pointages: int
    nb_anomalies: int


@dataclass(frozen=True, slots=True)
class AnomalyRecord:
    """An anomalous `pointage` row."""

    timemoto_user_id: str
    date_travail: date  # the date it counts on (an anomaly's own local date)
    heure_locale: datetime  # local wall-clock time, naive
    type_pointage: str
    motif_anomalie: str | None
    fuseau_horaire: str


# -- the rows of the sheets ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SummaryRow:
    person: Person
    minutes_travaillees: int
    jours_travailles: int
    nb_pointages: int
    nb_anomalies: int
    provisoire: bool


@dataclass(frozen=True, slots=True)
class DayRow:
    person: Person
    day: DayRecord


@dataclass(frozen=True, slots=True)
class AnomalyRow:
    person: Person
    anomaly: AnomalyRecord


@dataclass(frozen=True, slots=True)
class Payroll:
    month: Month
    summary: list[SummaryRow]
    days: list[DayRow]
    anomalies: list[AnomalyRow]


def provisoire(month: Month, now: datetime, zone: ZoneInfo, open_shift_on: date | None) -> bool:
    """The month is not over, or the employee ends it with a shift still open."""
    in_month = open_shift_on is not None and month.first_day <= open_shift_on < month.next.first_day
    return in_month or not month.is_over(now, zone)


def build_payroll(
    month: Month,
    now: datetime,
    zone: ZoneInfo,
    months: Iterable[MonthRecord],
    days: Iterable[DayRecord],
    anomalies: Iterable[AnomalyRecord],
) -> Payroll:
    """The three sheets' rows, each sorted by person (then date, then time)."""
    records = sorted(months, key=lambda r: r.person.sort_key)
    people = {r.person.timemoto_user_id: r.person for r in records}

    def person(user: str) -> Person:  # a user with punches has its month row; else bare
        return people.get(user) or Person(user, None, "", "", False, None)

    summary = [
        SummaryRow(
            r.person,
            r.minutes_travaillees,
            r.jours_travailles,
            r.nb_pointages,
            r.nb_anomalies,
            provisoire(month, now, zone, r.open_shift_on),
        )
        for r in records
    ]
    day_rows = [DayRow(person(d.timemoto_user_id), d) for d in days]
    day_rows.sort(key=lambda r: (r.person.sort_key, r.day.date_travail))
    anomaly_rows = [AnomalyRow(person(a.timemoto_user_id), a) for a in anomalies]
    anomaly_rows.sort(
        key=lambda r: (r.person.sort_key, r.anomaly.date_travail, r.anomaly.heure_locale)
    )
    return Payroll(month, summary, day_rows, anomaly_rows)


# -- French words ----------------------------------------------------------------------------

MOTIFS = {
    "entree_repetee": "entrée répétée",
    "sortie_sans_poste": "sortie sans poste",
    "poste_trop_long": "poste de plus de 24 h",
}
TYPES = {
    "entree": "entrée",
    "sortie": "sortie",
    "debut_pause": "début de pause",
    "fin_pause": "fin de pause",
    "inconnu": "inconnu",
}
YES, NO = "oui", "non"


def hours_text(minutes: int) -> str:
    """`H:MM`, hours unbounded: 8883 minutes is `148:03`."""
    return f"{minutes // 60}:{minutes % 60:02d}"


def decimal_hours(minutes: int) -> Decimal:
    """Hours with two decimals (what some payroll software wants): 8883 minutes is 148.05."""
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# -- the sheets' columns ---------------------------------------------------------------------

# How a cell is written: text; a whole number; a number of minutes shown as a duration (H:MM);
# hours with two decimals; a date; a time of day; a yes/no.
Kind = Literal["text", "integer", "duration", "decimal", "date", "time", "yesno"]


@dataclass(frozen=True, slots=True)
class LaterTime:
    """A time of day on a later day than the row's date: a night shift's exit, shown `06:00
    (+1 j)` so that a payroll clerk does not read an exit before the entry as a mistake."""

    at: time
    days_later: int

    def __str__(self) -> str:
        return f"{self.at:%H:%M} (+{self.days_later} j)"


Value = str | int | Decimal | date | time | LaterTime | bool | None
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Column(Generic[R]):
    header: str
    kind: Kind
    value: Callable[[R], Value]


@dataclass(frozen=True, slots=True)
class Sheet(Generic[R]):
    title: str
    columns: tuple[Column[R], ...]
    rows: list[R]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


def _time(at: datetime | None) -> time | None:
    return at.time() if at is not None else None


def _exit_time(day: DayRecord) -> time | LaterTime | None:
    """The last exit's time, marked with the days after the work date when it is on a later day."""
    if day.derniere_sortie is None:
        return None
    days_later = (day.derniere_sortie.date() - day.date_travail).days
    return (
        LaterTime(day.derniere_sortie.time(), days_later)
        if days_later > 0
        else day.derniere_sortie.time()
    )


def _person_columns(person: Callable[[R], Person]) -> tuple[Column[R], ...]:
    return (
        Column("N° équipe", "integer", lambda r: person(r).equipe_id),
        Column("Nom", "text", lambda r: person(r).nom),
        Column("Prénom", "text", lambda r: person(r).prenom),
    )


SUMMARY_TITLE = "Récapitulatif"
DAYS_TITLE = "Détail par jour"
ANOMALIES_TITLE = "Anomalies"

SUMMARY_COLUMNS: tuple[Column[SummaryRow], ...] = (
    *_person_columns(lambda r: r.person),
    Column("Rattaché à l'ERP", "yesno", lambda r: r.person.rattache),
    Column("Matricule", "text", lambda r: r.person.matricule),
    Column("Minutes travaillées", "integer", lambda r: r.minutes_travaillees),
    Column("Heures (H:MM)", "duration", lambda r: r.minutes_travaillees),
    Column("Heures (décimales)", "decimal", lambda r: decimal_hours(r.minutes_travaillees)),
    Column("Jours travaillés", "integer", lambda r: r.jours_travailles),
    Column("Pointages", "integer", lambda r: r.nb_pointages),
    Column("Anomalies", "integer", lambda r: r.nb_anomalies),
    Column("Provisoire", "yesno", lambda r: r.provisoire),
    Column("Identifiant TimeMoto", "text", lambda r: r.person.timemoto_user_id),
)

DAY_COLUMNS: tuple[Column[DayRow], ...] = (
    *_person_columns(lambda r: r.person),
    Column("Matricule", "text", lambda r: r.person.matricule),
    Column("Date", "date", lambda r: r.day.date_travail),
    Column("Première entrée", "time", lambda r: _time(r.day.premiere_entree)),
    Column("Dernière sortie", "time", lambda r: _exit_time(r.day)),
    Column("Minutes de pause", "integer", lambda r: r.day.minutes_pause),
    Column("Minutes travaillées", "integer", lambda r: r.day.minutes_travaillees),
    Column("Heures (H:MM)", "duration", lambda r: r.day.minutes_travaillees),
    Column("Pointages", "integer", lambda r: r.day.nb_pointages),
    Column("Anomalies", "integer", lambda r: r.day.nb_anomalies),
    Column("Identifiant TimeMoto", "text", lambda r: r.person.timemoto_user_id),
)

ANOMALY_COLUMNS: tuple[Column[AnomalyRow], ...] = (
    *_person_columns(lambda r: r.person),
    Column("Matricule", "text", lambda r: r.person.matricule),
    Column("Date", "date", lambda r: r.anomaly.heure_locale.date()),
    Column("Heure", "time", lambda r: r.anomaly.heure_locale.time()),
    Column(
        "Pointage",
        "text",
        lambda r: TYPES.get(r.anomaly.type_pointage, r.anomaly.type_pointage),
    ),
    Column(
        "Motif",
        "text",
        lambda r: MOTIFS.get(r.anomaly.motif_anomalie or "", r.anomaly.motif_anomalie),
    ),
    Column("Fuseau horaire", "text", lambda r: r.anomaly.fuseau_horaire),
    Column("Identifiant TimeMoto", "text", lambda r: r.person.timemoto_user_id),
)


def sheets(payroll: Payroll) -> tuple[Sheet[SummaryRow], Sheet[DayRow], Sheet[AnomalyRow]]:
    return (
        Sheet(SUMMARY_TITLE, SUMMARY_COLUMNS, payroll.summary),
        Sheet(DAYS_TITLE, DAY_COLUMNS, payroll.days),
        Sheet(ANOMALIES_TITLE, ANOMALY_COLUMNS, payroll.anomalies),
    )
