"""The simulated workshop: its employees and their working days."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from simulator.deliveries import Employee, attendance_inserted

EMPLOYEES = (
    Employee("b2e4c6a8-1f3d-4b5e-8a7c-9d0e1f2a3b4c", "Amira", "Ben Salah", "LP-014"),
    Employee("5c1d7e2f-3a4b-4c5d-9e6f-7a8b9c0d1e2f", "Karim", "Trabelsi", "LP-021"),
    Employee("9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "Sonia", "Mansour", "LP-033"),
)


def a_day_of_punches(day: datetime) -> list[dict[str, Any]]:
    """In at 08:00, a lunch break 12:00-13:00, out at 17:00, each employee a few minutes apart."""
    deliveries = []
    for offset, employee in enumerate(EMPLOYEES):
        start = day.replace(hour=8, minute=offset * 3)
        for action, at in ((0, start), (2, start.replace(hour=12)), (3, start.replace(hour=13))):
            deliveries.append(attendance_inserted(employee, action, at))
        deliveries.append(attendance_inserted(employee, 1, start + timedelta(hours=9)))
    return deliveries
