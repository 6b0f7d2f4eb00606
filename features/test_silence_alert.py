"""Steps for silence_alert.feature: the real application (in process, on a real PostgreSQL) with
a clock the scenario moves, TimeMoto's deliveries through the webhook, the status page read as
the operators read it, and a fake chat (respx) for ALERT_WEBHOOK_URL."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from litestar.testing import TestClient
from pytest_bdd import given, parsers, scenarios, then, when

from service.app import create_app
from service.domain.signature import sign
from service.http import paths
from service.settings import Settings
from simulator.harness import Database
from tests.support.samples import sample_delivery

scenarios("silence_alert.feature")

SECRET = "silence-feature-secret"
PASSWORD = "veille"
CHAT = "https://chat.example/hooks/atelier"
TUNIS = ZoneInfo("Africa/Tunis")
DAYS = {"Saturday": 28, "Sunday": 29, "Monday": 30}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 7, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield {"database_url": database_url, "tmp": tmp_path, "texts": [], "env": {}}


@given(
    parsers.parse('the pointage service watches with working hours "{hours}" in {zone}'),
)
def watching(world: dict[str, Any], hours: str, zone: str) -> None:
    world["env"].update(working_hours=hours, working_timezone=zone)
    # Each scenario starts from an empty history (the last delivery is read from the database).
    Database(world["database_url"]).execute(
        "DO $$ BEGIN IF to_regclass('pointage_horodatage') IS NOT NULL THEN TRUNCATE"
        " pointage_horodatage, pointage_evenement, pointage_resume_mensuel, pointage,"
        " pointage_resume; END IF; END $$"
    )


@given(parsers.parse("a silence alert after {hours:d} hours"))
def silence_after(world: dict[str, Any], hours: int) -> None:
    world["env"]["silence_alert_after"] = hours * 3600.0


@given("the operators' chat receives the alerts", target_fixture="running")
def running(world: dict[str, Any]) -> Iterator[dict[str, Any]]:
    settings = Settings(
        webhook_secrets=(SECRET,),
        database_url=world["database_url"],
        data_dir=world["tmp"] / "data",
        spool_dir=world["tmp"] / "spool",
        admin_password=PASSWORD,
        alert_webhook_url=CHAT,
        **world["env"],
    )

    def received(request: httpx.Request) -> httpx.Response:
        world["texts"].append(json.loads(request.content)["text"])
        return httpx.Response(200)

    clock = Clock()
    with respx.mock(assert_all_called=False) as chat:
        chat.post(CHAT).mock(side_effect=received)
        chat.route(host="testserver.local").pass_through()
        with TestClient(create_app(settings)) as client:
            monitor = client.app.state.runtime.monitor
            client.blocking_portal.call(monitor.watch_from, clock)  # the scenario's time
            world.update(client=client, clock=clock, monitor=monitor)
            yield world


def _at(day: str, hhmm: str) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime(2026, 11, DAYS[day], hour, minute, tzinfo=TUNIS).astimezone(UTC)


def _deliver(running: dict[str, Any]) -> None:
    document = sample_delivery()
    document["id"] = f"tm_{uuid.uuid4().hex}"
    body = json.dumps(document).encode()
    headers = {"Timemoto-Signature": sign(body, SECRET)}
    answer = running["client"].post(paths.WEBHOOK, content=body, headers=headers)
    assert answer.status_code == 200, answer.text


def _look(running: dict[str, Any]) -> str:
    """The monitor's loop looks (at the scenario's time), then the operator opens the status
    page (which only shows what the monitor raised: looking changes nothing)."""
    running["client"].blocking_portal.call(running["monitor"].check)
    page = running["client"].get(paths.STATUS, auth=("admin", PASSWORD))
    assert page.status_code == 200
    running["client"].get(paths.API_STATUS, auth=("admin", PASSWORD))  # the chat has had time
    return str(page.text)


@given(parsers.parse("TimeMoto delivered a punch on {day} {date} November 2026 at {hhmm}"))
def delivered_at(running: dict[str, Any], day: str, date: str, hhmm: str) -> None:
    running["day"] = day
    running["clock"].now = _at(day, hhmm)
    _deliver(running)
    _look(running)


@when(parsers.re(r"nothing arrives until (?:(?P<day>\w+day) )?(?P<hhmm>\d\d:\d\d)"))
def nothing_until(running: dict[str, Any], day: str | None, hhmm: str) -> None:
    end = _at(day or running["day"], hhmm)
    clock = running["clock"]
    while clock.now < end:  # the operator looks every quarter of an hour
        clock.now = min(clock.now + timedelta(minutes=15), end)
        running["page"] = _look(running)
    running["day"] = day or running["day"]


@when(parsers.parse("TimeMoto delivers a punch at {hhmm}"))
def delivers(running: dict[str, Any], hhmm: str) -> None:
    running["clock"].now = _at(running["day"], hhmm)
    _deliver(running)
    running["page"] = _look(running)


@then(parsers.parse('the status page shows the alert "{title}"'))
def shows_alert(running: dict[str, Any], title: str) -> None:
    page = _look(running)
    assert "alerte en cours" in page and title.replace("'", "&#39;") in page
    if "TimeMoto" in title:  # how to bring the period back, from the last delivery's day
        # (the scenario's clock is the monitor's; the deliveries' times are the real ones)
        assert re.search(r"reconcile EXPORT\.csv --from \d{4}-\d\d-\d\d</code>", page), page


@then("the status page shows no alert")
def shows_no_alert(running: dict[str, Any]) -> None:
    assert "Aucune alerte" in _look(running)


def _messages(running: dict[str, Any], word: str) -> list[str]:
    wanted = re.compile(rf"— {re.escape(word)} :")
    return [text for text in running["texts"] if wanted.search(text)]


@then(parsers.parse('the chat received {count:d} message saying "{word}"'))
def chat_received(running: dict[str, Any], count: int, word: str) -> None:
    assert len(_messages(running, word)) == count, running["texts"]


@then("the chat received no message")
def chat_silent(running: dict[str, Any]) -> None:
    assert running["texts"] == []
