"""`make simulate`'s reconciliation story: TimeMoto stops calling one afternoon, its deliveries
are never sent, and the operator brings them back from TimeMoto's own export (`python -m service
reconcile`, docs/contract.md §9).

Pure: which deliveries make the gap. Only plain clockings (`attendance.inserted` of a type the
export names) of users no correction names, so that what the export brings back is exactly what
was never delivered."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

TUESDAY = 1
AFTERNOON = 12  # from noon, local time
PLAIN_TYPES = {0, 1, 2, 3}  # In, Out, Break, Return: what TimeMoto's export names


def _local(delivery: dict[str, Any]) -> tuple[date, int] | None:
    data = delivery.get("data") or {}
    logged = data.get("timeLoggedRounded") or data.get("timeLogged")
    if not isinstance(logged, str) or len(logged) < 13:
        return None
    return date.fromisoformat(logged[:10]), int(logged[11:13])


def choose(deliveries: list[dict[str, Any]], first: date, last: date) -> tuple[set[str], str]:
    """The ids of the deliveries never sent (every copy of each), and the afternoon they make:
    the month's second Tuesday up to `last`, else its first; none when no Tuesday has any."""
    corrected = {
        (d.get("data") or {}).get("userId")
        for d in deliveries
        if d.get("event") != "attendance.inserted"
    }
    tuesdays = [
        first + timedelta(days=n)
        for n in range((last - first).days + 1)
        if (first + timedelta(days=n)).weekday() == TUESDAY
    ]
    for day in [*tuesdays[1:2], *tuesdays[:1]]:
        ids = {
            d["id"]
            for d in deliveries
            if d.get("event") == "attendance.inserted"
            and (d.get("data") or {}).get("userId") not in corrected
            and (d.get("data") or {}).get("clockingActionTypeId") in PLAIN_TYPES
            and (local := _local(d)) is not None
            and local[0] == day
            and local[1] >= AFTERNOON
        }
        if ids:
            return ids, f"Tuesday {day:%d/%m} afternoon"
    return set(), "no afternoon"
