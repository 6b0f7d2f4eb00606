"""Steps for payroll_export.feature: punches delivered to the webhook, the export downloaded."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import TestClient
from pytest_bdd import given, parsers, scenarios, then, when

from service.app import create_app
from service.domain.signature import HEADER, sign
from service.http import paths
from service.settings import Settings
from simulator.deliveries import Employee
from tests.support.payroll import delivery, workbook_rows

scenarios("payroll_export.feature")

SECRET = "payroll-feature-secret"
PASSWORD = "paie-fin-de-mois"
MONTHS = {"November": 11, "December": 12}


@pytest.fixture(scope="module")
def client(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient[Any]]:
    workdir: Path = tmp_path_factory.mktemp("payroll")
    settings = Settings(
        webhook_secrets=(SECRET,),
        database_url=database_url,
        data_dir=workdir / "data",
        spool_dir=workdir / "spool",
        admin_password=PASSWORD,
    )
    with TestClient(app=create_app(settings)) as running:
        yield running


@given("the pointage service is running with an admin password", target_fixture="context")
def context(client: TestClient[Any], database_url: str) -> dict[str, Any]:
    return {"client": client, "database_url": database_url}


@given(parsers.parse("{first} {last} works nights in {zone}"))
def an_employee(context: dict[str, Any], first: str, last: str, zone: str) -> None:
    employee = Employee("u-salma-nights", first, last, "LP-031", zone)
    context["employee"] = employee

    async def map_in_the_erp() -> None:  # the ERP's own row for her
        connection = await asyncpg.connect(context["database_url"], timeout=10)
        try:
            await connection.execute(
                "INSERT INTO equipe (nom, prenom, timemoto_user_id) VALUES ($1, $2, $3)"
                " ON CONFLICT (timemoto_user_id) DO NOTHING",
                last,
                first,
                employee.user_id,
            )
        finally:
            await connection.close()

    asyncio.run(map_in_the_erp())


@given("TimeMoto has delivered her clockings")
def delivered(context: dict[str, Any], datatable: list[list[str]]) -> None:
    header, *rows = datatable
    assert header == ["clocking", "local time"]
    for kind, local in rows:
        document = delivery(context["employee"], kind, local.replace(" ", "T") + ":00")
        body = json.dumps(document).encode()
        answer = context["client"].post(
            paths.WEBHOOK,
            content=body,
            headers={"Content-Type": "application/json", HEADER: sign(body, SECRET)},
        )
        assert answer.json()["status"] == "stored"


def download(context: dict[str, Any], month: str, year: int, signed_in: bool) -> httpx.Response:
    name = f"{year}-{MONTHS[month]:02d}.xlsx"
    token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"} if signed_in else {}
    answer: httpx.Response = context["client"].get(f"{paths.EXPORT}/{name}", headers=headers)
    return answer


@when(parsers.parse("the payroll clerk downloads the {month} {year:d} export as admin"))
def clerk_downloads(context: dict[str, Any], month: str, year: int) -> None:
    answer = download(context, month, year, signed_in=True)
    assert answer.status_code == 200
    context["sheets"] = workbook_rows(answer.content)


@when(parsers.parse("someone downloads the {month} {year:d} export without signing in"))
def someone_downloads(context: dict[str, Any], month: str, year: int) -> None:
    context["answer"] = download(context, month, year, signed_in=False)


def her_rows(context: dict[str, Any], sheet: str) -> list[dict[str, Any]]:
    user = context["employee"].user_id
    return [row for row in context["sheets"][sheet] if row["Identifiant TimeMoto"] == user]


@then(
    parsers.parse(
        'the "{sheet}" sheet shows {first} {last} with {hours} hours, {minutes:d} minutes, '
        "{days:d} days and {punches:d} punches"
    )
)
def summary_row(
    context: dict[str, Any],
    sheet: str,
    first: str,
    last: str,
    hours: str,
    minutes: int,
    days: int,
    punches: int,
) -> None:
    (row,) = her_rows(context, sheet)
    assert (row["Prénom"], row["Nom"], row["Rattaché à l'ERP"]) == (first, last, "oui")
    h, m = hours.split(":")
    assert row["Heures (H:MM)"] == timedelta(hours=int(h), minutes=int(m))
    assert row["Minutes travaillées"] == minutes
    assert (row["Jours travaillés"], row["Pointages"], row["Anomalies"]) == (days, punches, 0)


@then(
    parsers.parse(
        'the "{sheet}" sheet shows her night of {day} from {entree} to {sortie}, '
        "{minutes:d} minutes"
    )
)
def night_row(
    context: dict[str, Any], sheet: str, day: str, entree: str, sortie: str, minutes: int
) -> None:
    wanted = datetime.strptime(day, "%d/%m/%Y")
    (row,) = [r for r in her_rows(context, sheet) if r["Date"] == wanted]
    assert row["Première entrée"].strftime("%H:%M") == entree
    assert row["Dernière sortie"].strftime("%H:%M") == sortie
    assert row["Minutes travaillées"] == minutes


@then(parsers.parse("the {month} {year:d} export does not list her"))
def not_listed(context: dict[str, Any], month: str, year: int) -> None:
    answer = download(context, month, year, signed_in=True)
    assert answer.status_code == 200
    context["sheets"] = workbook_rows(answer.content)
    for sheet in ("Récapitulatif", "Détail par jour", "Anomalies"):
        assert her_rows(context, sheet) == []


@then("the answer is 401 and asks for Basic credentials")
def asks_for_credentials(context: dict[str, Any]) -> None:
    answer = context["answer"]
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic ")
