"""End to end: a generated week replayed, shuffled, into the real service; `check` agrees."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from simulator import generator
from simulator.__main__ import main
from tests.support.databases import Database
from tests.support.service import ServiceProcess, service_env
from tests.support.webhook import SECRET


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("week") / "week.jsonl"
    generated = generator.generate(8, date(2026, 11, 2), date(2026, 11, 8), seed=5)
    generator.write(generated, path)
    return path


@pytest.fixture(scope="module")
def service(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """A real process: `replay` is a command line that takes the service's URL."""
    workdir = tmp_path_factory.mktemp("service")
    with ServiceProcess(workdir, service_env(database_url, workdir)) as running:
        yield running


def test_replay_then_check(
    week: Path, service: ServiceProcess, database: Database, tmp_path: Path
) -> None:
    company = generator.Company.from_json(json.loads(generator.company_path(week).read_text()))
    for member in company.staff:
        if member.mapped:
            database.execute(
                "INSERT INTO equipe (nom, prenom, timemoto_user_id) VALUES ($1, $2, $3)",
                member.employee.last_name,
                member.employee.first_name,
                member.employee.user_id,
            )
    log = tmp_path / "log.jsonl"
    replay = ["replay", str(week), "--url", service.base_url, "--secret", SECRET]
    assert main([*replay, "--shuffle", "--seed", "3", "--concurrency", "4", "--log", str(log)]) == 0

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    deliveries = week.read_text().splitlines()
    assert len(lines) == len(deliveries)
    assert {line["status"] for line in lines} == {"Completed"}
    answers = [line["answer"]["status"] for line in lines]
    resent = len(deliveries) - len({json.loads(d)["id"] for d in deliveries})
    assert resent > 0 and answers.count("duplicate") == resent
    assert database.value("SELECT count(*) FROM pointage_horodatage") == len(deliveries) - resent

    assert main(["check", str(week), "--database-url", database.url]) == 0

    # A file with one punch the service never received: `check` says so, and fails.
    extra = json.loads(deliveries[0]) | {"id": "tm_never_delivered"}
    longer = tmp_path / "longer.jsonl"
    longer.write_text("\n".join([*deliveries, json.dumps(extra)]) + "\n")
    assert main(["check", str(longer), "--database-url", database.url]) == 1
