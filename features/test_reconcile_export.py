"""Steps for reconcile_export.feature: deliveries to the webhook, TimeMoto's export as a file,
`python -m service reconcile` run as the operator runs it (a real process, a real database)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from pytest_bdd import given, parsers, scenarios, then, when

from service.app import create_app
from service.domain.signature import HEADER, sign
from service.http import paths
from service.settings import Settings
from simulator.deliveries import Employee
from tests.support.databases import Database
from tests.support.payroll import delivery
from tests.support.service import service_cli

scenarios("reconcile_export.feature")

SECRET = "reconcile-feature-secret"


@pytest.fixture(scope="module")
def client(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient[Any]]:
    workdir: Path = tmp_path_factory.mktemp("reconcile")
    settings = Settings(
        webhook_secrets=(SECRET,),
        database_url=database_url,
        data_dir=workdir / "data",
        spool_dir=workdir / "spool",
    )
    with TestClient(app=create_app(settings)) as running:
        yield running


@given("the pointage service is running", target_fixture="context")
def context(client: TestClient[Any], database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {"client": client, "database_url": database_url, "workdir": tmp_path}


@given(parsers.parse("{first} {last} works days in {zone}"))
def an_employee(context: dict[str, Any], first: str, last: str, zone: str) -> None:
    employee = Employee("u-salma-days", first, last, "LP-041", zone)
    context["employee"] = employee
    Database(context["database_url"]).execute(
        "INSERT INTO equipe (nom, prenom, timemoto_user_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (timemoto_user_id) DO NOTHING",
        last,
        first,
        employee.user_id,
    )


def deliver(context: dict[str, Any], kind: str, local: str) -> str:
    document = delivery(context["employee"], kind, local.replace(" ", "T") + ":00")
    body = json.dumps(document).encode()
    answer = context["client"].post(
        paths.WEBHOOK,
        content=body,
        headers={"Content-Type": "application/json", HEADER: sign(body, SECRET)},
    )
    status: str = answer.json()["status"]
    return status


@given("TimeMoto has delivered her clockings")
def delivered(context: dict[str, Any], datatable: list[list[str]]) -> None:
    header, *rows = datatable
    assert header == ["clocking", "local time"]
    for kind, local in rows:
        assert deliver(context, kind, local) == "stored"


@given("TimeMoto stopped calling on Tuesday afternoon")
def stopped() -> None:
    """Nothing comes: the afternoon's punches exist only in TimeMoto."""


@given(parsers.parse("TimeMoto's export of Tuesday {day}, in French, has her clockings"))
def the_export(context: dict[str, Any], day: str, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    assert header == ["Entrée/Sortie", "Heure"]
    employee = context["employee"]
    lines = ["ID utilisateur;Prénom;Nom;Date;Heure;Entrée/Sortie"]
    lines += [
        f"{employee.user_id};{employee.first_name};{employee.last_name};{day};{clock};{kind}"
        for kind, clock in rows
    ]
    export = context["workdir"] / "export-mardi.csv"
    export.write_bytes("\r\n".join(lines).encode("cp1252"))  # as Excel saves it in French
    context["export"] = export


@when(parsers.parse("the operator runs the reconciliation of Tuesday {how} --apply"))
def operator_runs(context: dict[str, Any], how: str) -> None:
    context["rows_before"] = clockings(context)
    args = ["reconcile", str(context["export"]), "--from", "2026-11-03", "--to", "2026-11-03"]
    done = service_cli(
        [*args, "--apply"] if how == "with" else args,
        {"DATABASE_URL": context["database_url"], "TIMEMOTO_WEBHOOK_SECRET": SECRET},
        context["workdir"],
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    context["output"] = done.stdout


def clockings(context: dict[str, Any]) -> int:
    return int(
        Database(context["database_url"]).value("SELECT count(*) FROM pointage_horodatage") or 0
    )


@then(
    parsers.parse(
        "it lists {count:d} punches TimeMoto has and the clockings lack, and writes nothing"
    )
)
def lists_missing(context: dict[str, Any], count: int) -> None:
    output = context["output"]
    assert f"totals: {count} missing" in output, output
    assert output.count("  missing  ") == count
    assert "Salma Ben Ali (u-salma-days), 2026-11-03" in output or count == 0
    assert clockings(context) == context["rows_before"]


def november(context: dict[str, Any]) -> tuple[int, int]:
    row = Database(context["database_url"]).fetch(
        "SELECT minutes_travaillees, jours_travailles FROM pointage_resume_mensuel"
        " WHERE timemoto_user_id = $1 AND mois = '2026-11-01'",
        context["employee"].user_id,
    )[0]
    return row["minutes_travaillees"], row["jours_travailles"]


@then(parsers.parse("her November 2026 has {minutes:d} minutes over {days:d} days"))
def month_is_right(context: dict[str, Any], minutes: int, days: int) -> None:
    assert november(context) == (minutes, days)


@when("TimeMoto calls again and delivers her Tuesday 17:00 sortie late")
def late_delivery(context: dict[str, Any]) -> None:
    context["late"] = deliver(context, "sortie", "2026-11-03 17:00")


@then(parsers.parse('the answer is "{status}" and her November 2026 still has {minutes:d} minutes'))
def late_answer(context: dict[str, Any], status: str, minutes: int) -> None:
    assert context["late"] == status
    assert november(context)[0] == minutes
