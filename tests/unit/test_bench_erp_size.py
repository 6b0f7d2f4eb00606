"""The pure helpers of bench/bench_erp_size.py: the history's length, percentiles, verdicts."""

from __future__ import annotations

from datetime import date

from bench.bench_erp_size import (
    PUNCHES_PER_DAY,
    history_days,
    percentile,
    previous_month,
    verdict,
    weeks,
)


def test_history_days_gives_about_the_punches_asked() -> None:
    days = history_days(3_000_000, 500)
    assert 5 * 365 - 60 <= days <= 5 * 365 + 60  # five years, as issue 22 says
    assert abs(days * 500 * PUNCHES_PER_DAY - 3_000_000) < 500 * PUNCHES_PER_DAY
    assert history_days(10, 500) == 1


def test_percentile_is_the_nearest_rank() -> None:
    samples = [float(n) for n in range(100, 0, -1)]
    assert percentile(samples, 0.99) == 99.0
    assert percentile(samples, 0.5) == 50.0
    assert percentile([3.0, 1.0, 2.0], 0.99) == 3.0
    assert percentile([7.0], 0.01) == 7.0


def test_verdict_against_the_limit() -> None:
    assert verdict(10.0, 15.0) == (1.5, "ok")
    ratio, said = verdict(10.0, 15.1)
    assert said.startswith("OVER") and ratio > 1.5
    assert verdict(0.0, 1.0)[1].startswith("OVER")


def test_previous_month() -> None:
    assert previous_month(date(2026, 1, 15)) == (date(2025, 12, 1), date(2026, 1, 1))
    assert previous_month(date(2026, 3, 1)) == (date(2026, 2, 1), date(2026, 3, 1))


def test_weeks_cover_the_range_once_in_order() -> None:
    runs = weeks(date(2026, 1, 1), date(2026, 1, 16))
    assert runs == [
        (date(2026, 1, 1), date(2026, 1, 7)),
        (date(2026, 1, 8), date(2026, 1, 14)),
        (date(2026, 1, 15), date(2026, 1, 16)),
    ]
    assert weeks(date(2026, 1, 2), date(2026, 1, 1)) == []
