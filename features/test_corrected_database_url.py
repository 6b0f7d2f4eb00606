"""corrected_database_url.feature: the service and the CLI as real processes, on PostgreSQL."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, scenarios, then, when
from sqlalchemy.engine import make_url

from service.http import paths
from simulator.harness import Database, ServiceProcess, wait_until
from tests.support.databases import fresh_database, with_database
from tests.support.hardening import (
    env_for,
    expected_summaries,
    post,
    stored,
    summaries,
    two_days,
    verifier,
)
from tests.support.service import assert_logged_once, service_cli

scenarios("corrected_database_url.feature")


@dataclass
class Story:
    stack: contextlib.ExitStack
    workdir: Path
    right_url: str
    wrong_url: str = ""
    service: ServiceProcess | None = None
    log_offset: int = 0
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    answers: list[httpx.Response] = field(default_factory=list)
    sent: tuple[datetime, datetime] | None = None
    cli: subprocess.CompletedProcess[str] | None = None

    @property
    def svc(self) -> ServiceProcess:
        assert self.service is not None
        return self.service

    def start(self, url: str) -> None:
        self.log_offset = len(self.svc.log()) if self.service else 0
        self.service = ServiceProcess(self.workdir, env_for(url, self.workdir)).start()
        self.stack.callback(self.service.stop)

    def startup_log(self) -> str:
        return self.svc.log()[self.log_offset :]

    @property
    def database(self) -> Database:
        return Database(self.right_url)


@pytest.fixture
def story(postgres_server_url: str, tmp_path: Path) -> Iterator[Story]:
    with contextlib.ExitStack() as stack:
        right = stack.enter_context(fresh_database(postgres_server_url, "corrected"))
        yield Story(stack, tmp_path, right)


@given("the service starts with DATABASE_URL naming a database that does not exist")
def start_with_a_typo(story: Story) -> None:
    name = make_url(story.right_url).database
    story.wrong_url = with_database(story.right_url, f"{name}_typo")
    story.start(story.wrong_url)


@when(parsers.parse("TimeMoto delivers two days of punches for {count:d} employees to it"))
def deliver(story: Story, count: int) -> None:
    story.deliveries = two_days(count)
    started = datetime.now(UTC)
    story.answers = [post(story.svc.base_url, d) for d in story.deliveries]
    story.sent = (started, datetime.now(UTC))


@then(parsers.parse('each delivery is answered {code:d} "{status}"'))
def answered(story: Story, code: int, status: str) -> None:
    got = [(a.status_code, a.json()["status"]) for a in story.answers]
    assert got == [(code, status)] * len(story.deliveries)


@then(parsers.parse('the service log says once "{text}"'))
def log_says_once(story: Story, text: str) -> None:
    assert_logged_once(story.svc, text)


@when("the operator corrects DATABASE_URL and restarts the service")
def corrected(story: Story) -> None:
    story.svc.stop()
    story.start(story.right_url)


@then(
    parsers.parse(
        "the start-up log warns that {count:d} deliveries are stranded for the misspelt database"
    )
)
def startup_warns(story: Story, count: int) -> None:
    wrong_label = make_url(story.wrong_url).database
    # The start-up's own warning (the alert raised for the same deliveries is another line).
    lines = [
        line
        for line in story.startup_log().splitlines()
        if "stranded" in line and " service.runtime: " in line
    ]
    assert len(lines) == 1, story.startup_log()
    assert " WARNING " in lines[0]
    assert f"{count} deliveries are stranded" in lines[0]
    assert f"/{wrong_label}" in lines[0]
    assert "spool retarget" in lines[0]
    password = make_url(story.right_url).password
    assert not password or password not in story.svc.log()


@then(parsers.parse("the verifier answers 503 with {count:d} deliveries stranded and none pending"))
def verifier_stranded(story: Story, count: int) -> None:
    answer = verifier(story.svc.base_url)
    assert answer.status_code == 503
    body = answer.json()
    assert body["ok"] is False
    assert body["database"]["reachable"] is True and body["missing"] == []
    assert body["spool"]["stranded"] == count
    assert body["spool"]["pending"] == 0


@then(parsers.parse("/metrics reports {count:d} stranded deliveries"))
def metrics_stranded(story: Story, count: int) -> None:
    text = httpx.get(f"{story.svc.base_url}{paths.METRICS}", timeout=10).text
    assert f"timemoto_spool_stranded {float(count)}" in text


@when(parsers.parse('the operator runs "python -m service spool {arguments}"'))
def run_cli(story: Story, arguments: str) -> None:
    env = env_for(story.right_url, story.workdir)
    story.cli = service_cli(["spool", *arguments.split()], env, story.workdir, timeout=120)


@then(parsers.parse("it lists the {count:d} deliveries it would move, and moves none"))
def listed(story: Story, count: int) -> None:
    assert story.cli is not None
    out = story.cli.stdout
    assert story.cli.returncode == 0, story.cli.stderr
    assert f"would move {count} deliveries from " in out
    assert all(d["id"] in out for d in story.deliveries)
    assert "nothing moved" in out
    assert stored(story.database, [d["id"] for d in story.deliveries]) == 0
    assert verifier(story.svc.base_url).json()["spool"]["stranded"] == count


@then(parsers.parse("it says it moved {count:d} deliveries and wrote them all"))
def moved(story: Story, count: int) -> None:
    assert story.cli is not None
    assert story.cli.returncode == 0, story.cli.stdout + story.cli.stderr
    assert f"moved {count} deliveries from " in story.cli.stdout
    assert ", left: 0" in story.cli.stdout  # the running service may have written some itself


@then("pointage holds each delivered punch with its time of arrival")
def all_stored(story: Story) -> None:
    ids = [d["id"] for d in story.deliveries]
    assert wait_until(lambda: stored(story.database, ids) == len(ids), 60)
    arrivals = story.database.fetch(
        "SELECT recu_le FROM pointage_horodatage WHERE event_id = ANY($1::text[])", ids
    )
    assert story.sent is not None
    assert all(story.sent[0] <= row["recu_le"] <= story.sent[1] for row in arrivals)


@then(
    parsers.parse(
        "pointage_resume counts {minutes:d} minutes over {days:d} days and {punches:d} punches"
        " for each of the {count:d} employees"
    )
)
def summaries_right(story: Story, minutes: int, days: int, punches: int, count: int) -> None:
    assert (minutes, days, punches) == (1080, 2, 4)
    assert summaries(story.database) == expected_summaries(count)


@then("the verifier answers 200 with nothing pending and nothing stranded")
def verifier_ok(story: Story) -> None:
    def ok() -> bool:
        answer = verifier(story.svc.base_url)
        spool = answer.json()["spool"]
        return answer.status_code == 200 and spool["pending"] == 0 and spool["stranded"] == 0

    assert wait_until(ok, 30), verifier(story.svc.base_url).text
