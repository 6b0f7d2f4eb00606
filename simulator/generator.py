"""`generate`: a workshop's clockings over a date range, as TimeMoto delivers them. Pure.

Everything comes from one `random.Random(seed)`: the same seed and range give the same bytes. The
company is mostly day staff in Africa/Tunis, some early and night shifts, a few people in
Europe/Paris, a few TimeMoto users with no `equipe` row; on top of ordinary days it plans the
anomalies real clocks produce (see `ANOMALIES`), so that every rule of docs/contract.md §3 is
exercised.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from service.domain.timemoto import ClockingAction
from simulator.deliveries import Employee, attendance_inserted

IN, OUT, BREAK_START, BREAK_END = ClockingAction

ShiftKind = Literal["day", "early", "night"]
AnomalyKind = Literal[
    "late",  # arrives 25 to 95 minutes late
    "missing_out",  # forgets to clock out (the next entree makes this one an anomaly)
    "double_in",  # clocks in twice a few minutes apart (the first one is an anomaly)
    "missing_in",  # forgets to clock in: a lone sortie
    "ignored",  # a double tap TimeMoto itself discards (recordIgnored)
    "duplicate",  # TimeMoto re-sends a delivery with the same id
    "late_insert",  # a manager adds the forgotten sortie days later (delivered out of order)
]
ANOMALIES: tuple[AnomalyKind, ...] = (
    "late",
    "missing_out",
    "double_in",
    "missing_in",
    "ignored",
    "duplicate",
    "late_insert",
)


@dataclass(frozen=True, slots=True)
class ShiftPlan:
    start: time
    hours: float  # from entree to sortie, break included
    break_after: float  # hours after the start
    break_minutes: int


SHIFTS: dict[ShiftKind, ShiftPlan] = {
    "day": ShiftPlan(time(8, 0), 9, 4, 60),
    "early": ShiftPlan(time(6, 0), 8, 4, 30),
    "night": ShiftPlan(time(22, 0), 8, 4, 30),
}

FIRST_NAMES_TN = (
    "Amira", "Karim", "Sonia", "Mohamed", "Yassine", "Ines", "Hela", "Sami", "Rania", "Walid",
    "Nour", "Anis", "Salma", "Bilel", "Mariem", "Houssem", "Oumaima", "Aymen", "Syrine", "Fares",
)  # fmt: skip
LAST_NAMES_TN = (
    "Ben Salah", "Trabelsi", "Mansour", "Jlassi", "Gharbi", "Bouazizi", "Hammami", "Chaabane",
    "Ayari", "Mejri", "Khelifi", "Ben Ammar", "Dridi", "Sassi", "Zouari", "Ferchichi",
)  # fmt: skip
FIRST_NAMES_FR = ("Camille", "Julien", "Claire", "Thomas", "Léa", "Nicolas", "Chloé", "Hugo")
LAST_NAMES_FR = ("Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre", "Garnier")


@dataclass(frozen=True, slots=True)
class StaffMember:
    employee: Employee
    shift: ShiftKind
    mapped: bool  # has an `equipe` row; an unmapped user still clocks


@dataclass(frozen=True, slots=True)
class PlannedAnomaly:
    kind: AnomalyKind
    user_id: str
    day: date  # the work date of the shift it spoils


@dataclass(frozen=True, slots=True)
class Company:
    staff: tuple[StaffMember, ...]
    anomalies: tuple[PlannedAnomaly, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "employees": [
                {**asdict(member.employee), "shift": member.shift, "mapped": member.mapped}
                for member in self.staff
            ],
            "anomalies": [
                {"kind": a.kind, "user_id": a.user_id, "day": a.day.isoformat()}
                for a in self.anomalies
            ],
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Company:
        staff = tuple(
            StaffMember(
                Employee(
                    e["user_id"], e["first_name"], e["last_name"], e["employee_number"],
                    e["time_zone"],
                ),
                e["shift"],
                e["mapped"],
            )
            for e in document["employees"]
        )  # fmt: skip
        anomalies = tuple(
            PlannedAnomaly(a["kind"], a["user_id"], date.fromisoformat(a["day"]))
            for a in document.get("anomalies", [])
        )
        return cls(staff, anomalies)


@dataclass(slots=True)
class Generated:
    company: Company
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def jsonl(self) -> str:
        return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in self.deliveries)


@dataclass(frozen=True, slots=True)
class _Clocking:
    member: StaffMember
    action: int
    at: datetime  # aware instant
    inserted: datetime  # aware; when TimeMoto recorded (and so dispatches) it
    ignored: bool = False
    manual: bool = False  # typed in by a manager: round time, no seconds
    resent: bool = False  # TimeMoto delivers it a second time, same id


def make_company(rng: random.Random, size: int) -> tuple[StaffMember, ...]:
    paris = max(1, round(size * 0.15)) if size >= 4 else 0
    night = max(1, round(size * 0.12)) if size >= 3 else 0
    early = round(size * 0.2)
    unmapped = max(1, size // 12) if size >= 5 else 0
    staff = []
    names = {
        zone: rng.sample([(f, last) for f in firsts for last in lasts], len(firsts) * len(lasts))
        for zone, firsts, lasts in (
            ("Africa/Tunis", FIRST_NAMES_TN, LAST_NAMES_TN),
            ("Europe/Paris", FIRST_NAMES_FR, LAST_NAMES_FR),
        )
    }
    for index in range(size):
        in_paris = index >= size - paris
        zone = "Europe/Paris" if in_paris else "Africa/Tunis"
        first_name, last_name = names[zone][index % len(names[zone])]
        employee = Employee(
            user_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            first_name=first_name,
            last_name=last_name,
            employee_number=f"LP-{index + 1:03d}",
            time_zone=zone,
        )
        # The last employee, in Paris, works nights: daylight saving changes inside its shifts.
        kind: ShiftKind = "day"
        if index < night - 1 or (night and index == size - 1):
            kind = "night"
        elif night <= index < night + early:
            kind = "early"
        staff.append(
            StaffMember(employee, kind, mapped=index < size - paris - unmapped or in_paris)
        )
    return tuple(staff)


def workdays(member: StaffMember, start: date, end: date, rng: random.Random) -> list[date]:
    """Monday to Friday (nights: Tuesday to Saturday, so the night from Saturday to Sunday, when
    clocks change, is worked), less a day off now and then (leave, sickness)."""
    week = range(1, 6) if member.shift == "night" else range(5)
    days = []
    day = start
    while day <= end:
        if day.weekday() in week and rng.random() >= 0.04:
            days.append(day)
        day += timedelta(days=1)
    return days


def plan_anomalies(
    rng: random.Random, schedule: dict[StaffMember, list[date]]
) -> list[PlannedAnomaly]:
    """Each kind a few times, never two on one shift, never on a member's last shift (whose
    sortie could fall out of the range)."""
    candidates = [(m, d) for m, days in schedule.items() for d in days[:-1]]
    rng.shuffle(candidates)
    per_kind = max(1, len(schedule) // 6)
    planned: list[PlannedAnomaly] = []
    for kind in ANOMALIES:
        for _ in range(per_kind):
            if not candidates:
                return planned
            member, day = candidates.pop()
            planned.append(PlannedAnomaly(kind, member.employee.user_id, day))
    return planned


def _minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=rng.randint(int(low * 60), int(high * 60)))


def shift_clockings(
    member: StaffMember, day: date, rng: random.Random, anomaly: AnomalyKind | None
) -> list[_Clocking]:
    plan = SHIFTS[member.shift]
    zone = ZoneInfo(member.employee.time_zone)
    planned_start = datetime.combine(day, plan.start, tzinfo=zone)
    # Durations are real elapsed time: a daylight-saving change moves the wall clock, not work.
    start = (planned_start.astimezone(UTC) + _minutes(rng, -12, 4)).astimezone(zone)
    if anomaly == "late":
        start += _minutes(rng, 25, 95)
    pause = (planned_start.astimezone(UTC) + timedelta(hours=plan.break_after)).astimezone(zone)
    pause += _minutes(rng, -3, 3)
    resume = pause + timedelta(minutes=plan.break_minutes) + _minutes(rng, -2, 5)
    end = planned_start.astimezone(UTC) + timedelta(hours=plan.hours) + _minutes(rng, 0, 10)

    def clocking(action: int, at: datetime, **options: Any) -> _Clocking:
        # TimeMoto records a clocking a second or two after it happens.
        delay = timedelta(seconds=rng.randint(1, 3), microseconds=rng.randint(0, 999_999))
        inserted = at.astimezone(UTC) + delay
        return _Clocking(member, action, at.astimezone(UTC), inserted, **options)

    clockings = []
    if anomaly == "double_in":
        clockings.append(clocking(IN, start - _minutes(rng, 1, 4)))
    if anomaly != "missing_in":
        clockings.append(clocking(IN, start))
    if anomaly == "ignored":
        clockings.append(clocking(IN, start + timedelta(seconds=rng.randint(4, 40)), ignored=True))
    if anomaly != "missing_in":
        clockings.append(clocking(BREAK_START, pause))
        clockings.append(clocking(BREAK_END, resume))
    if anomaly == "late_insert":
        at = end.astimezone(zone).replace(second=0, microsecond=0)
        inserted = at.astimezone(UTC) + timedelta(
            days=rng.randint(1, 3), minutes=rng.randint(5, 300)
        )
        clockings.append(_Clocking(member, OUT, at.astimezone(UTC), inserted, manual=True))
    elif anomaly != "missing_out":
        clockings.append(clocking(OUT, end, resent=anomaly == "duplicate"))
    return clockings


def _rounded(local: datetime, action: int) -> datetime:
    """TimeMoto rounds to 5 minutes in the employer's favour: arrivals up, departures down."""
    floor = local.replace(minute=local.minute - local.minute % 5, second=0, microsecond=0)
    if action in (IN, BREAK_END) and floor != local:
        return floor + timedelta(minutes=5)
    return floor


def generate(size: int, start: date, end: date, seed: int) -> Generated:
    rng = random.Random(seed)
    staff = make_company(rng, size)
    schedule = {member: workdays(member, start, end, rng) for member in staff}
    anomalies = plan_anomalies(rng, schedule)
    spoiled = {(a.user_id, a.day): a.kind for a in anomalies}
    clockings = []
    for member, days in schedule.items():
        for day in days:
            anomaly = spoiled.get((member.employee.user_id, day))
            clockings += shift_clockings(member, day, rng, anomaly)
    deliveries = _deliveries(clockings, rng)
    return Generated(Company(staff, tuple(anomalies)), deliveries)


def _deliveries(clockings: list[_Clocking], rng: random.Random) -> list[dict[str, Any]]:
    """In TimeMoto's dispatch order; a re-sent delivery follows its first sending minutes later."""
    built = []
    for clocking in sorted(clockings, key=lambda c: c.inserted):
        zone = ZoneInfo(clocking.member.employee.time_zone)
        local = clocking.at.astimezone(zone).replace(tzinfo=None)
        built.append(
            (
                clocking,
                attendance_inserted(
                    clocking.member.employee,
                    clocking.action,
                    local,
                    event_id=f"tm_{rng.getrandbits(128):032x}",
                    rounded=local if clocking.manual else _rounded(local, clocking.action),
                    ignored=clocking.ignored,
                    record_hash=rng.getrandbits(64) - 2**63,
                    inserted_at=clocking.inserted,
                ),
            )
        )
    timeline = []
    for clocking, delivery in built:
        timeline.append((clocking.inserted, delivery))
        if clocking.resent:
            timeline.append((clocking.inserted + _minutes(rng, 1, 10), delivery))
    timeline.sort(key=lambda item: item[0])
    deliveries = []
    sequence: dict[str, int] = {}
    for _, delivery in timeline:
        # TimeMoto's sequence counts events; a re-sent delivery keeps its own.
        sequence.setdefault(delivery["id"], 18000 + len(sequence))
        delivery["sequence"] = sequence[delivery["id"]]
        deliveries.append(delivery)
    return deliveries


def company_path(deliveries_path: Path) -> Path:
    """`month.jsonl` → `month.company.json`."""
    return deliveries_path.with_name(deliveries_path.stem + ".company.json")


def write(generated: Generated, deliveries_path: Path) -> Path:
    deliveries_path.parent.mkdir(parents=True, exist_ok=True)
    deliveries_path.write_text(generated.jsonl(), encoding="utf-8")
    company = company_path(deliveries_path)
    document = generated.company.to_json()
    company.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return company


def read_deliveries(lines: Iterable[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.strip()]


def month_of(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)
