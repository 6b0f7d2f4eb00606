"""The alerts' rules without a server: working hours, and each alert's life cycle driven by a fake
clock through the real monitor (spool on disk, no database): raised once, cleared once, notified
once each way."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.alerts.monitor import AlertMonitor
from service.alerts.notifier import Notifier
from service.domain.alerts import Thresholds
from service.domain.working_hours import WorkingHours, WorkingHoursError
from service.outbox.spool import Spool

TUNIS = "Africa/Tunis"  # UTC+1, no daylight saving
HOURS = WorkingHours.parse("Mon-Sat 06:00-20:00", TUNIS)


def tunis(day: int, hour: int, minute: int = 0) -> datetime:
    """November 2026 in Tunis (the 30th is a Monday), as UTC."""
    return datetime(2026, 11, day, tzinfo=UTC) + timedelta(hours=hour - 1, minutes=minute)


# -- working hours -----------------------------------------------------------------------------


def test_working_time_counts_only_inside_the_hours() -> None:
    assert HOURS.seconds_between(tunis(30, 8), tunis(30, 10)) == 7200
    assert HOURS.seconds_between(tunis(27, 19), tunis(28, 7)) == 2 * 3600  # Fri 19 → Sat 07
    # Saturday 19:00 → Monday 07:00: an hour on Saturday, none on Sunday, an hour on Monday
    assert HOURS.seconds_between(tunis(28, 19), tunis(30, 7)) == 2 * 3600
    assert HOURS.seconds_between(tunis(29, 6), tunis(29, 20)) == 0  # Sunday
    assert HOURS.seconds_between(tunis(30, 10), tunis(30, 9)) == 0
    assert HOURS.is_working(tunis(30, 6)) and not HOURS.is_working(tunis(30, 20))


def test_night_windows_lists_french_days_and_daylight_saving() -> None:
    nights = WorkingHours.parse("lun-ven 22:00-06:00", TUNIS)
    assert nights.seconds_between(tunis(27, 21), tunis(28, 7)) == 8 * 3600  # Fri night
    paris = WorkingHours.parse("Mon-Sun 00:00-24:00", "Europe/Paris")
    change = datetime(2026, 10, 25, tzinfo=UTC)  # the night the clocks go back: 25 h long
    assert (
        paris.seconds_between(change - timedelta(hours=2), change + timedelta(hours=23))
        == 25 * 3600
    )
    split = WorkingHours.parse("Mon-Fri 08:00-12:00, Sat 09:00-11:00", TUNIS)
    assert split.seconds_between(tunis(28, 0), tunis(29, 0)) == 2 * 3600


@pytest.mark.parametrize(
    "text", ["", "Mon-Sat", "Mon-Sat 6-20", "Xyz 06:00-20:00", "Mon 25:00-26:00", "Mon 24:00-06:00"]
)
def test_malformed_working_hours_are_refused(text: str) -> None:
    with pytest.raises(WorkingHoursError):
        WorkingHours.parse(text, TUNIS)


# -- life cycles --------------------------------------------------------------------------------


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Recorder(Notifier):
    """The notifier, minus the network: what it would post."""

    def __init__(self) -> None:
        super().__init__("https://chat.example/hooks/secret-token")
        self.texts: list[str] = []

    def notify(self, text: str) -> None:
        self.texts.append(text)


class World:
    def __init__(self, tmp_path: Path, start: datetime) -> None:
        self.clock = Clock(start)
        self.up: bool | None = True
        self.spool = Spool(tmp_path / "spool", "key-here", "pointage@db/here")
        self.notifier = Recorder()
        self.monitor = AlertMonitor(
            Thresholds(working_hours=HOURS),
            self.spool,
            lambda: self.up,
            None,
            self.notifier,
            clock=self.clock,
        )

    def check(self) -> list[tuple[str, bool]]:
        return [(c.name, c.raised) for c in asyncio.run(self.monitor.check())]

    def run_for(self, minutes: int, step: int = 5) -> list[tuple[str, bool]]:
        changes = []
        for _ in range(minutes // step):
            self.clock.advance(minutes=step)
            changes += self.check()
        return changes


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tunis(30, 8))  # Monday 08:00


def test_silence_inside_working_hours_raises_once_and_clears_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "service.alerts")
    world.monitor.record("stored", 200)
    assert world.run_for(115) == []
    assert world.run_for(10) == [("silence", True)]  # 2 h of working time
    assert world.run_for(120) == []  # never repeated while it lasts
    world.monitor.record("stored", 200)
    assert world.check() == [("silence", False)]
    assert world.run_for(60) == []
    raised, cleared = world.notifier.texts
    assert raised.startswith("⚠️") and "TimeMoto n'appelle plus" in raised
    assert cleared.startswith("✅") and "fin d'alerte" in cleared
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage().split(":")[0] for r in warnings] == ["alert raised"]
    assert any(
        r.levelno == logging.INFO and "alert cleared: silence" in r.getMessage()
        for r in caplog.records
    )
    assert "secret-token" not in caplog.text


def test_silence_outside_working_hours_waits_for_monday(tmp_path: Path) -> None:
    world = World(tmp_path, tunis(28, 19))  # Saturday 19:00
    world.monitor.record("stored", 200)
    # Saturday 19:00 → Monday 06:59: one working hour (Saturday 19–20) and none on Sunday.
    assert world.run_for(35 * 60, step=30) == []  # until Monday 06:00
    world.clock.now = tunis(30, 6, 55)
    assert world.check() == []
    world.clock.now = tunis(30, 7, 5)  # an hour of Monday: two working hours in all
    assert world.check() == [("silence", True)]
    assert world.notifier.texts and len(world.notifier.texts) == 1


def test_database_down_past_alert_after_raised_once_cleared_once(world: World) -> None:
    world.monitor.record("stored", 200)
    assert world.check() == []
    world.up = False
    assert world.run_for(4, step=1) == []
    assert world.run_for(2, step=1) == [("database_unavailable", True)]
    assert world.run_for(30, step=1) == []
    world.up = True
    world.monitor.record("stored", 200)
    assert world.check() == [("database_unavailable", False)]
    assert len(world.notifier.texts) == 2


def test_an_old_spooled_delivery_raises_the_backlog_alert(world: World) -> None:
    world.monitor.record("queued", 202)
    world.spool.put("tm_waiting", b"{}", world.clock.now)
    assert world.run_for(4, step=1) == []
    assert world.run_for(2, step=1) == [("spool_backlog", True)]
    world.spool.remove(world.spool.oldest(1)[0].seq)
    assert world.check() == [("spool_backlog", False)]


def test_stranded_deliveries_raise_until_retargeted(world: World, tmp_path: Path) -> None:
    world.monitor.record("stored", 200)
    other = Spool(tmp_path / "spool", "key-before", "pointage@db/before")
    other.put("tm_stranded", b"{}", world.clock.now)
    assert world.check() == [("stranded", True)]
    assert world.run_for(30) == []
    other.remove(other.oldest(1)[0].seq)
    assert world.check() == [("stranded", False)]
    assert len(world.notifier.texts) == 2


def test_a_growing_quarantine_raises_then_clears_after_an_hour_without_growth(world: World) -> None:
    world.monitor.record("stored", 200)
    world.spool.quarantine("tm_old", b"{}", "invalid", world.clock.now)
    assert world.check() == []  # what was there at start is not growth
    world.spool.quarantine("tm_new", b"{}", "invalid", world.clock.now)
    assert world.check() == [("quarantine_growing", True)]
    world.monitor.record("stored", 200)
    assert world.run_for(55) == []
    assert world.run_for(10) == [("quarantine_growing", False)]


def test_a_burst_of_wrong_signatures_raises_once(world: World) -> None:
    world.monitor.record("stored", 200)
    for _ in range(4):
        world.monitor.record("error", 401)
    assert world.check() == []
    world.monitor.record("error", 401)
    assert world.check() == [("signature_failures", True)]
    for _ in range(20):
        world.clock.advance(seconds=20)
        world.monitor.record("error", 401)  # still failing: no new alert
        world.monitor.record("stored", 200)
        assert world.check() == []
    world.clock.advance(minutes=11)
    world.monitor.record("stored", 200)
    assert world.check() == [("signature_failures", False)]
    assert len(world.notifier.texts) == 2
    assert world.monitor.activity.signature_failures(world.clock.now) == 25
