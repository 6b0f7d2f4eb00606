"""Worked time (docs/contract.md §3): the reference model of what `pointage_resume` must hold. No
I/O.

The database keeps the same numbers incrementally (sql/schema_pointage.sql); the tests hold the
two to each other. Where the contract is silent, the rules below decide (README "Worked time"):

- Order: `horodatage`, then a type order (fin_pause, sortie, entree, debut_pause, inconnu) so that
  a shift closes before the next opens at the same instant, then the zone name. Punches equal on
  all three are interchangeable, so any order of arrival gives the same summaries.
- Every `entree` or `sortie` resets the state: the punches between two of them form a segment.
- Breaks count only inside a shift: a `debut_pause` opens one unless one is open, a `fin_pause`
  closes the open one; a break still open at the `sortie` ends there. Outside a shift, and while
  none is open for `fin_pause`, break punches count nothing and are no anomaly.
- `inconnu` punches count as punches and nothing else. A punch of a shift (closed or open) belongs
  to the shift's work date; any other punch to its own local date.
- A shift of exactly 24 hours is still a shift; longer is not.
- Why a punch is an anomaly (`motif_anomalie`): `entree_repetee` (an entree while a shift is
  open: the earlier entree), `sortie_sans_poste` (a sortie with no open shift), `poste_trop_long`
  (both punches of a "shift" over 24 hours).
- The day rows (`daily_summaries`, the view `v_pointage_jour`): per user and work date, the local
  time of its first `entree` and of its last `sortie` (in the order above, anomalous ones
  included), the break and worked minutes of its closed shifts (each total rounded down), its
  punches and anomalies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Final, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

# Ties at one instant: close what is open before opening anything (as SQL `pointage_rang`).
RANG: dict[str, int] = {"fin_pause": 0, "sortie": 1, "entree": 2, "debut_pause": 3, "inconnu": 4}
ANCHORS = frozenset({"entree", "sortie"})
LONGEST_SHIFT = timedelta(hours=24)
MICROSECOND = timedelta(microseconds=1)
MICROSECONDS_PER_MINUTE = 60_000_000

MotifAnomalie = Literal["entree_repetee", "sortie_sans_poste", "poste_trop_long"]
ENTREE_REPETEE: Final = "entree_repetee"  # an entree while a shift is open: the earlier entree
SORTIE_SANS_POSTE: Final = "sortie_sans_poste"  # a sortie with no open shift
POSTE_TROP_LONG: Final = "poste_trop_long"  # both punches of a "shift" over 24 hours


class Clocking(Protocol):  # service.domain.delivery.Punch satisfies it as is
    @property
    def timemoto_user_id(self) -> str: ...
    @property
    def type_pointage(self) -> str: ...  # entree, sortie, debut_pause, fin_pause, inconnu
    @property
    def horodatage(self) -> datetime: ...  # aware instant
    @property
    def fuseau_horaire(self) -> str: ...  # IANA zone of the punch
    @property
    def ignore(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class MonthSummary:
    timemoto_user_id: str
    mois: date  # first day of the month
    minutes_travaillees: int
    jours_travailles: int
    nb_pointages: int
    nb_anomalies: int


C = TypeVar("C", bound=Clocking)


@dataclass(frozen=True, slots=True)
class DaySummary:
    """One row of `v_pointage_jour` (less `equipe_id`, which is the database's mapping)."""

    timemoto_user_id: str
    date_travail: date  # the work date (`jour_rattache`)
    premiere_entree: datetime | None  # local wall-clock time (naive) of its first entree
    derniere_sortie: datetime | None  # and of its last sortie
    minutes_pause: int
    minutes_travaillees: int
    nb_pointages: int
    nb_anomalies: int


@dataclass(frozen=True, slots=True)
class Attribution:
    """What one punch contributes: the work date it counts on, and to what."""

    jour: date
    travail_us: int = 0  # a closed shift's worked microseconds, carried by its sortie
    anomalie: bool = False  # always `motif_anomalie is not None`
    poste_ferme: bool = False  # the sortie of a closed shift (makes its date a worked day)
    motif_anomalie: MotifAnomalie | None = None  # why it is an anomaly
    pause_us: int = 0  # a closed shift's break microseconds, carried by its sortie

    def __post_init__(self) -> None:
        if self.anomalie != (self.motif_anomalie is not None):
            raise ValueError("an anomaly has a reason, and only an anomaly has one")

    @classmethod
    def anomaly(cls, jour: date, motif: MotifAnomalie) -> Attribution:
        return cls(jour, anomalie=True, motif_anomalie=motif)


def instant(clocking: Clocking) -> datetime:
    """In UTC: Python compares and subtracts two datetimes of one tzinfo by wall clock."""
    return clocking.horodatage.astimezone(UTC)


def order_key(clocking: Clocking) -> tuple[datetime, int, str]:
    return (instant(clocking), RANG.get(clocking.type_pointage, 4), clocking.fuseau_horaire)


def local_date(clocking: Clocking) -> date:
    return clocking.horodatage.astimezone(_zone(clocking.fuseau_horaire)).date()


def local_time(clocking: Clocking) -> datetime:
    """The wall-clock time in the punch's zone, naive (SQL `horodatage AT TIME ZONE fuseau`)."""
    return clocking.horodatage.astimezone(_zone(clocking.fuseau_horaire)).replace(tzinfo=None)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def attribute(punches: Sequence[Clocking]) -> list[Attribution]:
    """The attribution of each punch of one user, given in `order_key` order, not ignored."""
    result: list[Attribution | None] = [None] * len(punches)
    opened: int | None = None  # index of the entree of the open shift
    segment: list[int] = []  # punches since the last entree or sortie

    def outside(indices: Iterable[int]) -> None:
        for i in indices:
            result[i] = Attribution(local_date(punches[i]))

    for i, punch in enumerate(punches):
        if punch.type_pointage == "entree":
            if opened is not None:
                result[opened] = Attribution.anomaly(local_date(punches[opened]), ENTREE_REPETEE)
            outside(segment)
            opened, segment = i, []
        elif punch.type_pointage == "sortie":
            if opened is None:
                result[i] = Attribution.anomaly(local_date(punch), SORTIE_SANS_POSTE)
                outside(segment)
            else:
                entree = punches[opened]
                elapsed = instant(punch) - instant(entree)
                if elapsed > LONGEST_SHIFT:
                    result[opened] = Attribution.anomaly(local_date(entree), POSTE_TROP_LONG)
                    result[i] = Attribution.anomaly(local_date(punch), POSTE_TROP_LONG)
                    outside(segment)
                else:
                    jour = local_date(entree)
                    breaks = _breaks(punches, segment, punch)
                    result[opened] = Attribution(jour)
                    for j in segment:
                        result[j] = Attribution(jour)
                    result[i] = Attribution(
                        jour,
                        (elapsed - breaks) // MICROSECOND,
                        poste_ferme=True,
                        pause_us=breaks // MICROSECOND,
                    )
            opened, segment = None, []
        else:
            segment.append(i)
    if opened is None:
        outside(segment)
    else:  # the open shift: its punches wait on its work date, counting nothing yet
        jour = local_date(punches[opened])
        for j in [opened, *segment]:
            result[j] = Attribution(jour)
    return [a for a in result if a is not None]


def _breaks(punches: Sequence[Clocking], segment: list[int], sortie: Clocking) -> timedelta:
    total = timedelta(0)
    started: datetime | None = None
    for j in segment:
        kind, at = punches[j].type_pointage, instant(punches[j])
        if kind == "debut_pause" and started is None:
            started = at
        elif kind == "fin_pause" and started is not None:
            total += at - started
            started = None
    if started is not None:  # a break never ended lasts until the sortie
        total += instant(sortie) - started
    return total


def attributed(clockings: Iterable[C]) -> list[tuple[C, Attribution]]:
    """Each punch not ignored with its attribution: by user, then in `order_key` order (punches
    equal on it keep the order they are given in)."""
    by_user: dict[str, list[C]] = defaultdict(list)
    for clocking in clockings:
        if not clocking.ignore:
            by_user[clocking.timemoto_user_id].append(clocking)
    result: list[tuple[C, Attribution]] = []
    for user in sorted(by_user):
        punches = sorted(by_user[user], key=order_key)
        result += zip(punches, attribute(punches), strict=True)
    return result


def monthly_summaries(clockings: Iterable[Clocking]) -> list[MonthSummary]:
    """docs/contract.md §3; sorted by (timemoto_user_id, mois); only months that have punches."""
    months: dict[tuple[str, date], _Month] = defaultdict(_Month)
    for clocking, attribution in attributed(clockings):
        month = months[clocking.timemoto_user_id, attribution.jour.replace(day=1)]
        month.travail_us += attribution.travail_us
        month.nb_pointages += 1
        month.nb_anomalies += attribution.anomalie
        if attribution.poste_ferme:
            month.jours.add(attribution.jour)
    return [
        MonthSummary(
            timemoto_user_id=user,
            mois=mois,
            minutes_travaillees=month.travail_us // MICROSECONDS_PER_MINUTE,
            jours_travailles=len(month.jours),
            nb_pointages=month.nb_pointages,
            nb_anomalies=month.nb_anomalies,
        )
        for (user, mois), month in sorted(months.items())
    ]


def daily_summaries(clockings: Iterable[Clocking]) -> list[DaySummary]:
    """The rows of `v_pointage_jour`, sorted by (timemoto_user_id, date_travail)."""
    days: dict[tuple[str, date], _Day] = defaultdict(_Day)
    for clocking, attribution in attributed(clockings):  # in order: the last sortie wins
        day = days[clocking.timemoto_user_id, attribution.jour]
        if clocking.type_pointage == "entree" and day.premiere_entree is None:
            day.premiere_entree = local_time(clocking)
        elif clocking.type_pointage == "sortie":
            day.derniere_sortie = local_time(clocking)
        day.pause_us += attribution.pause_us
        day.travail_us += attribution.travail_us
        day.nb_pointages += 1
        day.nb_anomalies += attribution.anomalie
    return [
        DaySummary(
            timemoto_user_id=user,
            date_travail=jour,
            premiere_entree=day.premiere_entree,
            derniere_sortie=day.derniere_sortie,
            minutes_pause=day.pause_us // MICROSECONDS_PER_MINUTE,
            minutes_travaillees=day.travail_us // MICROSECONDS_PER_MINUTE,
            nb_pointages=day.nb_pointages,
            nb_anomalies=day.nb_anomalies,
        )
        for (user, jour), day in sorted(days.items())
    ]


@dataclass(slots=True)
class _Month:
    travail_us: int = 0
    nb_pointages: int = 0
    nb_anomalies: int = 0
    jours: set[date] = field(default_factory=set)


@dataclass(slots=True)
class _Day:
    premiere_entree: datetime | None = None
    derniere_sortie: datetime | None = None
    pause_us: int = 0
    travail_us: int = 0
    nb_pointages: int = 0
    nb_anomalies: int = 0
