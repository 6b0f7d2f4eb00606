"""The status page in a real browser: headless Chromium loads /status with the operators' password
from a running service, a screenshot goes to reports/status.png (a phone's width), and the DOM it
built shows each fact of docs/contract.md §6; the same with JavaScript disabled. Chromium comes
from Debian's `chromium` package (installed here when running as root with apt), else the test is
skipped with the reason."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from service.domain.signature import sign
from service.http import paths
from simulator.harness import Database, ServiceProcess, wait_until
from tests.support import chromium as browser
from tests.support.samples import sample_delivery
from tests.support.tools import tool_or_skip

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports"
SECRET = "browser-secret"
PASSWORD = "statut-navigateur"
HOSTILE = "<script>document.title='pwned'</script>"
TUNIS = ZoneInfo("Africa/Tunis")


@pytest.fixture(scope="module")
def chromium() -> str:
    return tool_or_skip("chromium", "chromium")


@pytest.fixture(scope="module")
def service(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    work = tmp_path_factory.mktemp("browser")
    env = {
        "TIMEMOTO_WEBHOOK_SECRET": SECRET,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(work / "data"),
        "SPOOL_DIR": str(work / "spool"),
        "ADMIN_PASSWORD": PASSWORD,
    }
    with ServiceProcess(work, env) as running:
        _a_working_day(running, Database(database_url))
        yield running


PEOPLE = [
    ("u-salma", "Salma", "Ben Ali", "LP-031", "Atelier Ksar Hellal", True),
    ("u-yassine", "Yassine", "Gharbi", "LP-017", "Atelier Ksar Hellal", True),
    ("u-camille", "Camille", "Martin", "LP-052", "Dépôt Sousse", True),
    ("u-nouveau", HOSTILE, "Nouveau", "LP-<b>77</b>", "Dépôt Sousse", False),
]


def _a_working_day(service: ServiceProcess, database: Database) -> None:
    """Two days of punches for four people (one unmapped, with a hostile name), an anomaly, and
    a burst of forged deliveries (an alert)."""
    for user, first, last, _, _, mapped in PEOPLE:
        if mapped:
            database.execute(
                "INSERT INTO equipe (nom, prenom, timemoto_user_id) VALUES ($1, $2, $3)",
                last,
                first,
                user,
            )
    now = datetime.now(TUNIS).replace(second=0, microsecond=0)
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        for hours_ago in range(40, 0, -3):
            for i, (user, first, last, number, location, _) in enumerate(PEOPLE):
                at = now - timedelta(hours=hours_ago, minutes=7 * i)
                kind = (hours_ago // 3 + i) % 2  # entree, sortie, entree, ...
                document = sample_delivery()
                document["id"] = f"tm_{uuid.uuid4().hex}"
                document["data"].update(
                    userId=user,
                    userFirstName=first,
                    userLastName=last,
                    userFullName=f"{first} {last}",
                    userEmployeeNumber=number,
                    locationName=location,
                    clockingActionTypeId=kind,
                    clockingType="In" if kind == 0 else "Out",
                    timeLogged=at.strftime("%Y-%m-%dT%H:%M:%S"),
                    timeLoggedRounded=at.strftime("%Y-%m-%dT%H:%M:%S"),
                    timeZone="Africa/Tunis",
                )
                body = json.dumps(document).encode()
                headers = {"Timemoto-Signature": sign(body, SECRET)}
                assert client.post(paths.WEBHOOK, content=body, headers=headers).status_code == 200
        for _ in range(5):  # TimeMoto with a wrong secret
            forged = client.post(paths.WEBHOOK, content=b"{}", headers={"Timemoto-Signature": "0"})
            assert forged.status_code == 401

        def raised() -> bool:  # the monitor's loop looks soon after a delivery; the page shows it
            answer = client.get(paths.API_STATUS, auth=("admin", PASSWORD)).json()
            return "signature_failures" in [alert["name"] for alert in answer["alerts"]]

        assert wait_until(raised, timeout=60), "the monitor never raised the signature alert"


def _load(chromium: str, url: str, tmp: Path, *extra: str) -> str:
    return browser.dump_dom(chromium, url, tmp / "profile", 412, *extra)


def _screenshot(chromium: str, url: str, tmp: Path, path: Path) -> None:
    browser.screenshot(chromium, url, tmp / "shot", path, "412,2400")


def _check_facts(dom: str) -> None:
    assert '<html lang="fr">' in dom
    assert "pwned" not in dom.split("<title>")[1].split("</title>")[0]  # not run: text
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    for section in (
        'id="alertes"',
        'id="base"',
        'id="spool"',
        'id="derniere-livraison"',
        'id="par-lieu"',
        'id="livraisons-par-heure"',
        'id="reponses"',
        'id="signatures"',
        'id="non-rattaches"',
        'id="anomalies"',
    ):
        assert section in dom, section
    for fact in (
        "Signatures refusées en rafale",  # the alert now raised
        "disponible",  # the database, and since when
        "Depuis",
        "En attente",  # the spool
        "Bloquées (autre base)",
        "En quarantaine",
        "Dernière livraison reçue",
        "Atelier Ksar Hellal",  # the last per location
        "Dépôt Sousse",
        "Livraisons par heure (48 h)",
        "enregistrées&nbsp;: ",  # today's answers by status (French typography: no-break space)
        "refusées&nbsp;: ",
        "Signatures refusées (24 h)",
        "UPDATE equipe SET timemoto_user_id = 'u-nouveau' WHERE id = …;",
        "matricule LP-&lt;b&gt;77&lt;/b&gt;",
        "Anomalies de",
    ):
        assert fact in dom, fact
    assert dom.count('class="bar') == 48


def test_the_status_page_in_chromium(
    chromium: str, service: ServiceProcess, tmp_path: Path
) -> None:
    url = f"http://admin:{PASSWORD}@127.0.0.1:{service.port}{paths.STATUS}"
    _check_facts(_load(chromium, url, tmp_path))
    _screenshot(chromium, url, tmp_path, REPORTS / "status.png")


def test_the_status_page_without_javascript(
    chromium: str, service: ServiceProcess, tmp_path: Path
) -> None:
    """The page forbids every script (Content-Security-Policy: script-src falls back to
    default-src 'none'), which Chromium enforces: what it shows is the page without JavaScript.
    (This Chromium's headless capture, --dump-dom or --screenshot, yields nothing at all under
    --blink-settings=scriptEnabled=false; when it does, that run is checked too.)"""
    url = f"http://admin:{PASSWORD}@127.0.0.1:{service.port}{paths.STATUS}"
    policy = httpx.get(url, timeout=30).headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    _check_facts(_load(chromium, url, tmp_path))
    disabled = _load(chromium, url, tmp_path, "--blink-settings=scriptEnabled=false")
    if disabled.strip():
        _check_facts(disabled)


def test_without_the_password_chromium_gets_no_page(
    chromium: str, service: ServiceProcess, tmp_path: Path
) -> None:
    dom = _load(chromium, f"http://127.0.0.1:{service.port}{paths.STATUS}", tmp_path)
    assert "Base de données" not in dom
