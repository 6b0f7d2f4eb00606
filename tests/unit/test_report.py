"""What the simulator prints: the progress bar off a terminal, the hours table's verdicts."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from simulator.deliveries import Employee
from simulator.expectations import ErpMonth
from simulator.generator import Company, StaffMember
from simulator.report import Progress, hours, hours_rows, hours_table
from simulator.sender import DeliveryResult
from simulator.worktime_model import MonthSummary

NOVEMBER = date(2026, 11, 1)


def test_off_a_terminal_progress_prints_one_line_a_tenth() -> None:
    stream = io.StringIO()
    progress = Progress(20, stream=stream)
    for n in range(20):
        progress.advance(DeliveryResult(f"tm_{n}", 202 if n % 2 else 200, {"status": "queued"}))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[-1].startswith("[" + "#" * 30 + "] 20/20 100%") and "queued 20" in lines[-1]


def summary(user: str, minutes: int) -> MonthSummary:
    return MonthSummary(user, NOVEMBER, minutes, 20, 80, 0)


def test_the_hours_table_marks_who_differs() -> None:
    company = Company(
        (
            StaffMember(Employee("u-1", "Amira", "Ben Salah", "LP-001"), "day", mapped=True),
            StaffMember(Employee("u-2", "Karim", "Trabelsi", "LP-002"), "day", mapped=True),
            StaffMember(Employee("u-3", "Sonia", "Mansour", "LP-003"), "night", mapped=False),
        )
    )
    expected = [summary("u-1", 9600), summary("u-2", 9000), summary("u-3", 600)]
    actual = [summary("u-1", 9600), summary("u-2", 8990), summary("u-3", 600)]
    rows = hours_rows(company, NOVEMBER, actual, expected, {"u-1": 9600, "u-2": 8990})
    assert [row.ok for row in rows] == [True, False, True]
    # The ERP's hours: right for u-1 (9600 minutes = 160 hours), missing for u-2.
    erp = {("u-1", NOVEMBER): ErpMonth(Decimal("160.00"), 20)}
    with_erp = hours_rows(company, NOVEMBER, actual, actual, {"u-1": 9600, "u-2": 8990}, erp)
    assert [row.ok for row in with_erp] == [True, False, True]
    assert "160.00" in hours_table(with_erp, NOVEMBER).splitlines()[2]
    table = hours_table(rows, NOVEMBER).splitlines()
    assert "160:00" in table[2] and table[2].endswith("✓")
    assert "149:50" in table[3] and "150:00" in table[3] and table[3].endswith("DIFFERS")
    assert "unmapped" in table[4]
    assert hours(61) == "1:01" and hours(None) == "-"
