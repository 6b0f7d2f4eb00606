"""`make simulate` on the current month: its days up to today, and no delivery TimeMoto would only
send later (no punch from the future on the status page or in the export)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from simulator import generator
from simulator.simulate import simulated_days, up_to

TODAY = date(2026, 12, 7)


def test_this_month_ends_today() -> None:
    assert simulated_days(date(2026, 12, 1), TODAY) == (date(2026, 12, 1), TODAY)
    assert simulated_days(TODAY, TODAY) == (date(2026, 12, 1), TODAY)


def test_a_past_month_is_whole() -> None:
    assert simulated_days(date(2026, 11, 1), TODAY) == (date(2026, 11, 1), date(2026, 11, 30))


def test_a_month_to_come_is_refused() -> None:
    with pytest.raises(ValueError, match="2027-01 has not begun"):
        simulated_days(date(2027, 1, 1), TODAY)


def test_nothing_from_after_now_is_delivered() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    generated = generator.generate(6, date(2026, 12, 1), TODAY, seed=3)
    sent_later = [d for d in generated.deliveries if d["dispatchedAt"] > now.timestamp()]
    assert sent_later  # today's afternoon at least: the filter has work to do
    kept = len(generated.deliveries) - len(sent_later)
    assert up_to(generated, now) == len(sent_later)
    assert len(generated.deliveries) == kept
    latest = max(
        datetime.fromisoformat(d["data"]["timeInserted"].replace("0Z", "+00:00"))
        for d in generated.deliveries
    )
    assert latest <= now
