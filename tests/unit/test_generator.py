"""The generator: deterministic by seed, in TimeMoto's exact shape, with the anomalies it plans."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from service.domain.delivery import Punch, parse_delivery
from simulator.generator import (
    ANOMALIES,
    SHIFTS,
    Company,
    Generated,
    StaffMember,
    company_path,
    generate,
    write,
)
from tests.support.samples import sample_delivery

START, END = date(2026, 11, 1), date(2026, 11, 30)


@pytest.fixture(scope="module")
def month() -> Generated:
    return generate(25, START, END, seed=11)


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    first, second = generate(25, START, END, 4), generate(25, START, END, 4)
    assert first.jsonl() == second.jsonl()
    write(first, tmp_path / "a.jsonl")
    write(second, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert company_path(tmp_path / "a.jsonl").read_bytes() == (
        company_path(tmp_path / "b.jsonl").read_bytes()
    )
    assert generate(25, START, END, 5).jsonl() != first.jsonl()


def test_the_company_file_round_trips(tmp_path: Path, month: Generated) -> None:
    write(month, tmp_path / "m.jsonl")
    document = json.loads((tmp_path / "m.company.json").read_text())
    assert Company.from_json(document) == month.company
    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == month.deliveries


def test_every_delivery_parses_as_the_service_reads_it(month: Generated) -> None:
    for delivery in month.deliveries:
        punch = parse_delivery(delivery).punch
        assert punch is not None and punch.type_pointage != "inconnu"


def test_deliveries_have_exactly_the_sample_keys(month: Generated) -> None:
    sample = sample_delivery()
    for delivery in month.deliveries:
        assert delivery.keys() == sample.keys()
        assert delivery["data"].keys() == sample["data"].keys()


def test_the_company_is_mixed(month: Generated) -> None:
    staff = month.company.staff
    assert len(staff) == 25 and len({m.employee.user_id for m in staff}) == 25
    zones = Counter(m.employee.time_zone for m in staff)
    assert zones["Africa/Tunis"] > zones["Europe/Paris"] > 0
    assert {m.shift for m in staff} == {"day", "early", "night"}
    unmapped = [m for m in staff if not m.mapped]
    assert 0 < len(unmapped) <= 3
    clocking_users = {d["data"]["userId"] for d in month.deliveries}
    assert {m.employee.user_id for m in unmapped} <= clocking_users


def test_deliveries_come_in_dispatch_order_with_big_record_hashes(month: Generated) -> None:
    firsts = {d["id"]: n for n, d in reversed(list(enumerate(month.deliveries)))}
    sent = enumerate(month.deliveries)  # a re-sent copy is identical, dispatchedAt included
    dispatched = [d["dispatchedAt"] for n, d in sent if firsts[d["id"]] == n]
    assert dispatched == sorted(dispatched)
    assert any(abs(d["data"]["recordHash"]) > 2**53 for d in month.deliveries)
    assert all(d["data"]["timeInserted"].endswith("Z") for d in month.deliveries)


def local(delivery: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(delivery["data"]["timeLogged"])


def shift_of(month: Generated, member: StaffMember, day: date) -> list[dict[str, Any]]:
    """The deliveries of `member` around its planned shift on `day` (first sending only)."""
    plan = SHIFTS[member.shift]
    begin = datetime.combine(day, plan.start) - timedelta(hours=3)
    end = begin + timedelta(hours=plan.hours + 6)
    seen: set[str] = set()
    found = []
    for delivery in month.deliveries:
        if delivery["data"]["userId"] != member.employee.user_id or delivery["id"] in seen:
            continue
        seen.add(delivery["id"])
        if begin <= local(delivery) <= end:
            found.append(delivery)
    return sorted(found, key=local)


def actions(deliveries: list[dict[str, Any]], *, ignored: bool = False) -> list[int]:
    return [
        d["data"]["clockingActionTypeId"]
        for d in deliveries
        if d["data"]["recordIgnored"] is ignored
    ]


def test_an_ordinary_day_has_four_clockings_and_a_full_shift(month: Generated) -> None:
    member = next(m for m in month.company.staff if m.shift == "day")
    planned = {a.day for a in month.company.anomalies if a.user_id == member.employee.user_id}
    day = next(d for d in (START + timedelta(n) for n in range(30)) if d.weekday() < 5)
    while day in planned or not shift_of(month, member, day):
        day += timedelta(days=1)
    punches = shift_of(month, member, day)
    assert actions(punches) == [0, 2, 3, 1]
    worked = local(punches[3]) - local(punches[0]) - (local(punches[2]) - local(punches[1]))
    assert timedelta(hours=7, minutes=30) <= worked <= timedelta(hours=8, minutes=30)


def test_a_night_shift_ends_the_next_day(month: Generated) -> None:
    member = next(m for m in month.company.staff if m.shift == "night")
    days = {
        local(d).date() for d in month.deliveries if d["data"]["userId"] == member.employee.user_id
    }
    day = min(days)
    punches = shift_of(month, member, day)
    assert local(punches[0]).hour in (21, 22) and local(punches[-1]).date() == day + timedelta(1)


def planned(month: Generated, kind: str) -> list[tuple[StaffMember, date]]:
    by_id = {m.employee.user_id: m for m in month.company.staff}
    return [(by_id[a.user_id], a.day) for a in month.company.anomalies if a.kind == kind]


def test_every_kind_of_anomaly_is_planned(month: Generated) -> None:
    assert {a.kind for a in month.company.anomalies} == set(ANOMALIES)


def test_late_arrivals_are_late(month: Generated) -> None:
    for member, day in planned(month, "late"):
        start = datetime.combine(day, SHIFTS[member.shift].start)
        arrival = local(shift_of(month, member, day)[0])
        assert arrival - start >= timedelta(minutes=12)  # 25 late, less up to 12 early


def test_forgotten_clockings_are_missing(month: Generated) -> None:
    for member, day in planned(month, "missing_out"):
        assert actions(shift_of(month, member, day)) == [0, 2, 3]
    for member, day in planned(month, "missing_in"):
        assert actions(shift_of(month, member, day)) == [1]


def test_double_entrees_and_ignored_double_taps(month: Generated) -> None:
    for member, day in planned(month, "double_in"):
        assert actions(shift_of(month, member, day)) == [0, 0, 2, 3, 1]
    for member, day in planned(month, "ignored"):
        punches = shift_of(month, member, day)
        assert actions(punches) == [0, 2, 3, 1] and actions(punches, ignored=True) == [0]


def test_duplicates_resend_the_same_delivery(month: Generated) -> None:
    counts = Counter(d["id"] for d in month.deliveries)
    resent = {event_id for event_id, count in counts.items() if count > 1}
    assert len(resent) == len(planned(month, "duplicate"))
    for member, day in planned(month, "duplicate"):
        out = shift_of(month, member, day)[-1]
        assert out["id"] in resent
        copies = [d for d in month.deliveries if d["id"] == out["id"]]
        assert copies[0] == copies[1]


def test_late_insertions_arrive_days_later_and_out_of_order(month: Generated) -> None:
    for member, day in planned(month, "late_insert"):
        out = shift_of(month, member, day)[-1]
        assert out["data"]["clockingActionTypeId"] == 1
        inserted = datetime.fromisoformat(out["data"]["timeInserted"][:26]).replace(tzinfo=UTC)
        logged = local(out).replace(tzinfo=ZoneInfo(member.employee.time_zone))
        assert inserted - logged >= timedelta(days=1)
        position = month.deliveries.index(out)
        assert any(local(d) > local(out) for d in month.deliveries[:position])


def test_every_punch_belongs_to_the_range(month: Generated) -> None:
    punches: list[Punch] = [parse_delivery(d).punch for d in month.deliveries]  # type: ignore[misc]
    assert min(p.date_travail for p in punches) >= START
    assert max(p.date_travail for p in punches) <= END + timedelta(days=1)


def test_a_night_across_the_spring_change_lasts_its_real_time() -> None:
    """Paris moves its clocks on Sunday 29 March 2026 at 02:00: the night of the 28th has its
    eight hours, so its sortie reads an hour later on the wall clock."""
    march = generate(25, date(2026, 3, 1), date(2026, 3, 31), seed=11)
    member = march.company.staff[-1]
    assert (member.shift, member.employee.time_zone) == ("night", "Europe/Paris")
    punches = shift_of(march, member, date(2026, 3, 28))
    assert actions(punches) == [0, 2, 3, 1]
    wall = local(punches[-1]) - local(punches[0])
    assert timedelta(hours=9) <= wall <= timedelta(hours=9, minutes=22)
