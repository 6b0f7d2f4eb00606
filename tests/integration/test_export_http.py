"""`GET /api/export/{YYYY-MM}.xlsx|csv` in process (docs/contract.md §6, §7): the operators' auth,
the answers, and files whose figures are `pointage_resume`'s."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from service.app import create_app
from service.domain.payroll import Month, hours_text
from service.http import paths
from service.http.operators import ENABLE_HINT
from service.settings import Settings
from simulator.deliveries import Employee
from simulator.harness import free_port
from tests.support.payroll import (
    RESUME_SQL,
    csv_rows,
    delivery,
    seed,
    workbook_headers,
    workbook_rows,
)

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery staple"

SALMA = Employee("u-salma", "Salma", "Ben Ali", "LP-001")
ZOE = Employee("u-zoe", "Zoé", 'O"Brien; fils', "LP-0;2")  # never mapped to equipe
KARIM = Employee("u-karim", "Karim", "Trabelsi", "LP-003", "Europe/Paris")

PUNCHES = [
    # November 2026: a day with a break, and a night shift across the month's end.
    delivery(SALMA, "entree", "2026-11-02T08:00:00"),
    delivery(SALMA, "debut_pause", "2026-11-02T12:00:00"),
    delivery(SALMA, "fin_pause", "2026-11-02T12:45:00"),
    delivery(SALMA, "sortie", "2026-11-02T17:00:00"),
    delivery(SALMA, "entree", "2026-11-30T22:00:00"),
    delivery(SALMA, "sortie", "2026-12-01T06:00:00"),
    # Zoé: a sortie without a shift (an anomaly), then a shift; an ignored double tap.
    delivery(ZOE, "sortie", "2026-11-03T17:00:00"),
    delivery(ZOE, "entree", "2026-11-04T08:00:00"),
    delivery(ZOE, "entree", "2026-11-04T08:00:20", ignored=True),
    delivery(ZOE, "sortie", "2026-11-04T16:30:00"),
    # October 2025, long over: Karim ends it with a shift still open; Salma does not.
    delivery(KARIM, "entree", "2025-10-30T08:00:00"),
    delivery(KARIM, "sortie", "2025-10-30T16:00:00"),
    delivery(KARIM, "entree", "2025-10-31T22:00:00"),
    delivery(SALMA, "entree", "2025-10-29T08:00:00"),
    delivery(SALMA, "sortie", "2025-10-29T12:00:00"),
]


@pytest.fixture(scope="module")
def url(database_url: str) -> str:
    seed(database_url, [("BEN ALI", "Salma", "u-salma"), ("Trabelsi", "Karim", "u-karim")], PUNCHES)
    return database_url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def settings(url: str, tmp: Path, password: str | None = PASSWORD, **more: Any) -> Settings:
    return Settings(
        webhook_secrets=("test-secret",),
        database_url=url,
        data_dir=tmp / "data",
        spool_dir=tmp / "spool",
        admin_password=password,
        **more,
    )


def auth(password: str = PASSWORD, user: str = "admin") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
async def client(url: str, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(settings(url, tmp_path))) as client:
        yield client


async def get(client: AsyncTestClient[Any], name: str, **headers: str) -> httpx.Response:
    return await client.get(f"{paths.EXPORT}/{name}", headers=headers or auth())


async def resume(url: str, month: Month) -> dict[str, asyncpg.Record]:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        users = ["u-salma", "u-zoe", "u-karim"]
        rows = await connection.fetch(RESUME_SQL, month.first_day, users)
    finally:
        await connection.close()
    return {row["timemoto_user_id"]: row for row in rows}


# -- the operators' auth -----------------------------------------------------------------------


async def test_without_admin_password_the_paths_are_absent(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        app = create_app(settings(url, tmp_path, password=None))
    assert [r.getMessage() for r in caplog.records].count(ENABLE_HINT) == 1
    assert "ADMIN_PASSWORD" in ENABLE_HINT
    async with AsyncTestClient(app=app) as client:
        for headers in ({}, auth(), auth("")):
            answer = await client.get(f"{paths.EXPORT}/2026-11.xlsx", headers=headers)
            assert answer.status_code == 404


async def test_no_credentials_or_wrong_ones_get_401(client: AsyncTestClient[Any]) -> None:
    for headers in ({"X-None": "1"}, auth("wrong"), auth(PASSWORD, user="root")):
        answer = await get(client, "2026-11.xlsx", **headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith('Basic realm="timemoto-pointage"')
        assert answer.json()["status"] == "error"
        assert "content-disposition" not in answer.headers


async def test_repeated_failures_are_slowed_down(client: AsyncTestClient[Any]) -> None:
    for _ in range(5):
        assert (await get(client, "2026-11.csv", **auth("guess"))).status_code == 401
    for headers in (auth("guess"), auth()):  # now even the right password waits
        answer = await get(client, "2026-11.csv", **headers)
        assert answer.status_code == 429
        assert 1 <= int(answer.headers["Retry-After"]) <= 60


async def test_admin_password_is_never_logged(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with AsyncTestClient(app=create_app(settings(url, tmp_path))) as client:
        logging.getLogger("service.test").warning("leak? %s", PASSWORD)
        await get(client, "2026-11.csv", **auth("wrong"))
    assert PASSWORD not in capsys.readouterr().out


# -- the answers -------------------------------------------------------------------------------


async def test_a_month_that_does_not_exist_gets_422(client: AsyncTestClient[Any]) -> None:
    for name in ("2026-13.xlsx", "2026-00.csv", "26-11.xlsx"):
        answer = await get(client, name)
        assert answer.status_code == 422
        assert "YYYY-MM" in answer.json()["reason"]
    assert (await get(client, "2026-11.pdf")).status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("２０２６-11.csv", 422),  # full-width digits are digits to `\\d`, not to payroll
        ("%20%202026-11.csv", 422),
        ("2026-11.CSV", 404),
        ("2026-11.csv/", 404),
        ("2026-11.xlsx/", 404),
    ],
)
async def test_only_yyyy_mm_in_ascii_digits_is_a_month(
    client: AsyncTestClient[Any], path: str, status: int
) -> None:
    answer = await client.get(f"{paths.EXPORT}/{path}", headers=auth())
    assert answer.status_code == status
    assert "content-disposition" not in answer.headers


async def test_every_answer_has_one_charset_nosniff_and_no_referrer(
    client: AsyncTestClient[Any],
) -> None:
    for path, headers in (
        (f"{paths.EXPORT}/2026-11.csv", auth()),
        (paths.STATUS, auth()),
        (paths.STATUS, {}),
        ("/nowhere", {}),
        (paths.HEALTH, {}),
    ):
        answer = await client.get(path, headers=headers)
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "no-referrer", path
        assert answer.headers.get("content-type", "").lower().count("charset") <= 1, path


async def test_a_month_with_no_punches_gives_headers_only(client: AsyncTestClient[Any]) -> None:
    answer = await get(client, "2024-02.xlsx")
    assert answer.status_code == 200
    assert workbook_rows(answer.content) == {
        "Récapitulatif": [],
        "Détail par jour": [],
        "Anomalies": [],
    }
    assert workbook_headers(answer.content)["Anomalies"][4:8] == [
        "Date",
        "Heure",
        "Pointage",
        "Motif",
    ]
    csv_answer = await get(client, "2024-02.csv")
    assert csv_answer.status_code == 200
    assert len(csv_rows(csv_answer.content)) == 1


async def test_xlsx_download(client: AsyncTestClient[Any]) -> None:
    answer = await get(client, "2026-11.xlsx")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="pointage-2026-11.xlsx"' in answer.headers["content-disposition"]
    assert answer.headers["cache-control"] == "no-store"


async def test_the_summary_is_pointage_resume(client: AsyncTestClient[Any], url: str) -> None:
    for month in (Month(2026, 11), Month(2025, 10)):
        rows = workbook_rows((await get(client, f"{month}.xlsx")).content)["Récapitulatif"]
        stored = await resume(url, month)
        assert {r["Identifiant TimeMoto"] for r in rows} == set(stored)
        for row in rows:
            db = stored[row["Identifiant TimeMoto"]]
            assert row["N° équipe"] == db["equipe_id"]
            assert row["Minutes travaillées"] == db["minutes_travaillees"]
            assert row["Heures (H:MM)"] == timedelta(minutes=db["minutes_travaillees"])
            assert row["Jours travaillés"] == db["jours_travailles"]
            assert row["Pointages"] == db["nb_pointages"]
            assert row["Anomalies"] == db["nb_anomalies"]


async def test_names_days_and_anomalies_of_november(client: AsyncTestClient[Any]) -> None:
    sheets = workbook_rows((await get(client, "2026-11.xlsx")).content)
    salma, zoe = sheets["Récapitulatif"]  # in alphabetical order
    assert (salma["Nom"], salma["Prénom"], salma["Rattaché à l'ERP"]) == ("BEN ALI", "Salma", "oui")
    assert salma["Matricule"] == "LP-001"
    # 2 Nov: 9 h less 45 min of break; 30 Nov 22:00 to 1 Dec 06:00 counts in November.
    assert (salma["Minutes travaillées"], salma["Jours travaillés"]) == (495 + 480, 2)
    november_over = Month(2026, 11).is_over(datetime.now(UTC), ZoneInfo("Africa/Tunis"))
    assert salma["Provisoire"] == ("non" if november_over else "oui")  # her shifts are closed
    assert (zoe["Nom"], zoe["Prénom"], zoe["Rattaché à l'ERP"]) == ('O"Brien; fils', "Zoé", "non")
    assert (zoe["N° équipe"], zoe["Matricule"], zoe["Anomalies"]) == (None, "LP-0;2", 1)
    days = [
        (d["Nom"], d["Date"].date().isoformat(), d["Minutes travaillées"])
        for d in sheets["Détail par jour"]
    ]
    assert days == [
        ("BEN ALI", "2026-11-02", 495),
        ("BEN ALI", "2026-11-30", 480),
        ('O"Brien; fils', "2026-11-03", 0),
        ('O"Brien; fils', "2026-11-04", 510),
    ]
    night = sheets["Détail par jour"][1]
    assert (night["Première entrée"].isoformat(), night["Dernière sortie"].isoformat()) == (
        "22:00:00",
        "06:00:00",
    )
    assert sheets["Détail par jour"][0]["Minutes de pause"] == 45
    (anomaly,) = sheets["Anomalies"]
    assert (anomaly["Nom"], anomaly["Pointage"], anomaly["Motif"]) == (
        'O"Brien; fils',
        "sortie",
        "sortie sans poste",
    )
    assert (anomaly["Date"].date().isoformat(), anomaly["Heure"].isoformat()) == (
        "2026-11-03",
        "17:00:00",
    )


async def test_provisoire_in_a_month_that_is_over(client: AsyncTestClient[Any]) -> None:
    rows = workbook_rows((await get(client, "2025-10.xlsx")).content)["Récapitulatif"]
    provisional = {r["Prénom"]: r["Provisoire"] for r in rows}
    assert provisional == {"Salma": "non", "Karim": "oui"}  # Karim's shift of 31 Oct is open


async def test_csv_is_the_summary_in_french(client: AsyncTestClient[Any], url: str) -> None:
    answer = await get(client, "2026-11.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    header, *rows = csv_rows(answer.content)
    assert header[:3] == ["N° équipe", "Nom", "Prénom"]
    by_name = {row[1]: dict(zip(header, row, strict=True)) for row in rows}
    zoe = by_name['O"Brien; fils']
    assert (zoe["Prénom"], zoe["Matricule"], zoe["Rattaché à l'ERP"]) == ("Zoé", "LP-0;2", "non")
    stored = await resume(url, Month(2026, 11))
    for row in by_name.values():
        db = stored[row["Identifiant TimeMoto"]]
        assert row["Minutes travaillées"] == str(db["minutes_travaillees"])
        assert row["Heures (H:MM)"] == hours_text(db["minutes_travaillees"])
        assert "," in row["Heures (décimales)"] and "." not in row["Heures (décimales)"]


async def test_a_database_that_cannot_answer_gets_503(tmp_path: Path) -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    app = create_app(settings(unreachable, tmp_path, connect_timeout=1.0, schema_auto_apply=False))
    async with AsyncTestClient(app=app) as client:
        answer = await get(client, "2026-11.xlsx")
    assert answer.status_code == 503
    assert "refused" in answer.json()["reason"]
    assert "postgres@" not in answer.text
