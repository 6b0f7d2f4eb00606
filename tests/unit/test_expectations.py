"""`expect` on a small file whose totals are done by hand; the comparison `check` makes."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from service.domain.timemoto import ClockingAction
from simulator.__main__ import main
from simulator.deliveries import Employee, attendance_inserted
from simulator.expectations import Difference, ErpMonth, differences, punches
from simulator.worktime_model import MonthSummary

AMIRA = Employee("u-amira", "Amira", "Ben Salah", "LP-014")
LEA = Employee("u-lea", "Léa", "Laurent", "LP-031", time_zone="Europe/Paris")
IN, OUT, BREAK_START, BREAK_END = ClockingAction


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def small_file(path: Path) -> Path:
    out_2 = attendance_inserted(AMIRA, OUT, at("2026-11-02T17:00"), event_id="tm_a4")
    deliveries = [
        # 2 Nov: a full day with a lunch break: 480 minutes.
        attendance_inserted(AMIRA, IN, at("2026-11-02T08:00"), event_id="tm_a1"),
        attendance_inserted(AMIRA, BREAK_START, at("2026-11-02T12:00"), event_id="tm_a2"),
        attendance_inserted(AMIRA, BREAK_END, at("2026-11-02T13:00"), event_id="tm_a3"),
        out_2,
        out_2,  # re-sent by TimeMoto: counts once
        # 3 Nov: a double tap TimeMoto ignores, no break: 510 minutes.
        attendance_inserted(AMIRA, IN, at("2026-11-03T08:00"), event_id="tm_a5"),
        attendance_inserted(AMIRA, IN, at("2026-11-03T08:00:20"), event_id="tm_a6", ignored=True),
        attendance_inserted(AMIRA, OUT, at("2026-11-03T16:30"), event_id="tm_a7"),
        # 4 Nov: no sortie, so the next entree makes this one an anomaly.
        attendance_inserted(AMIRA, IN, at("2026-11-04T08:00"), event_id="tm_a8"),
        # 5 Nov: a morning: 240 minutes.
        attendance_inserted(AMIRA, IN, at("2026-11-05T08:00"), event_id="tm_a9"),
        attendance_inserted(AMIRA, OUT, at("2026-11-05T12:00"), event_id="tm_a10"),
        # A night from 30 November to 1 December belongs to November: 480 minutes.
        attendance_inserted(LEA, OUT, at("2026-12-01T06:00"), event_id="tm_l2"),
        attendance_inserted(LEA, IN, at("2026-11-30T22:00"), event_id="tm_l1"),
    ]
    path.write_text("".join(json.dumps(d) + "\n" for d in deliveries))
    return path


EXPECTED = [
    {
        "timemoto_user_id": "u-amira",
        "mois": "2026-11-01",
        "minutes_travaillees": 480 + 510 + 240,
        "jours_travailles": 3,
        "nb_pointages": 4 + 2 + 1 + 2,
        "nb_anomalies": 1,
    },
    {
        "timemoto_user_id": "u-lea",
        "mois": "2026-11-01",
        "minutes_travaillees": 480,
        "jours_travailles": 1,
        "nb_pointages": 2,
        "nb_anomalies": 0,
    },
]


def test_expect_gives_the_totals_worked_out_by_hand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["expect", str(small_file(tmp_path / "small.jsonl"))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == EXPECTED


def test_a_resent_delivery_is_one_punch(tmp_path: Path) -> None:
    lines = small_file(tmp_path / "small.jsonl").read_text().splitlines()
    assert len(lines) == 13
    assert len(punches(lines)) == 12


def totals(user: str, minutes: int, month: date = date(2026, 11, 1)) -> MonthSummary:
    return MonthSummary(user, month, minutes, 1, 2, 0)


def test_differences_name_every_field_and_missing_row() -> None:
    november, december = date(2026, 11, 1), date(2026, 12, 1)
    expected = [totals("a", 480), totals("a", 60, december), totals("b", 30)]
    actual = [totals("a", 470), totals("b", 30), totals("someone else", 5)]
    found = differences(expected, actual, {"a": 60, "b": 0, "someone else": 5})
    assert found == [
        Difference("a", november, "minutes_travaillees", 480, 470),
        Difference("a", december, "minutes_travaillees", 60, None),
        Difference("a", december, "jours_travailles", 1, None),
        Difference("a", december, "nb_pointages", 2, None),
        Difference("a", december, "nb_anomalies", 0, None),
        Difference("b", None, "minutes_travaillees_mois", 30, 0),
    ]
    assert differences(expected, expected, {"a": 60, "b": 30}) == []


def test_differences_compare_the_erp_hours_of_mapped_users_only() -> None:
    november, december = date(2026, 11, 1), date(2026, 12, 1)
    expected = [totals("a", 487), totals("a", 60, december), totals("b", 30)]
    equipe = {"a": 60}  # b is not mapped: the ERP has no row of it
    right = {
        ("a", november): ErpMonth(Decimal("8.12"), 1),
        ("a", december): ErpMonth(Decimal("1.00"), 1),
    }
    assert differences(expected, expected, equipe, right) == []
    wrong = {
        ("a", november): ErpMonth(Decimal("487.00"), 1),  # minutes taken for hours
        ("b", november): ErpMonth(Decimal("0.50"), 1),  # unmapped: not compared
    }
    assert differences(expected, expected, equipe, wrong) == [
        Difference("a", november, "total_heures", Decimal("8.12"), Decimal("487.00")),
        Difference("a", december, "total_heures", Decimal("1.00"), None),
        Difference("a", december, "total_jours_presents", 1, None),
    ]
