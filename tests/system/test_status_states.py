"""The status page's headline in each state an operator meets (docs/contract.md §6), from a real
service: all well (green), the database timing out with deliveries waiting (orange), deliveries
stranded for another database (red: an alert), an alert raised (red). Each page is photographed in
headless Chromium at a desktop's and a phone's width (reports/status-<state>-<width>.png)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.domain.signature import sign
from service.http import paths
from simulator.harness import ServiceProcess
from simulator.proxy import FaultProxy
from tests.support import chromium
from tests.support.samples import sample_delivery
from tests.support.service import free_port, wait_until
from tests.support.tools import find_tool

SECRET = "etats-de-la-page"
PASSWORD = "etats"
REPORTS = Path(__file__).resolve().parents[2] / "reports"
WIDTHS = (1366, 390)
DEADLINE = 60.0


@pytest.fixture(scope="module")
def browser() -> str | None:
    return find_tool("chromium", "chromium")[0]  # the page is checked without it too


def env_for(work: Path, database_url: str) -> dict[str, str]:
    return {
        "TIMEMOTO_WEBHOOK_SECRET": SECRET,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(work / "data"),
        "SPOOL_DIR": str(work / "spool"),
        "ADMIN_PASSWORD": PASSWORD,
        "DB_CONNECT_TIMEOUT": "1",
    }


def deliver(service: ServiceProcess, count: int = 1, *, signed: bool = True) -> list[int]:
    codes = []
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        for _ in range(count):
            document = {**sample_delivery(), "id": f"tm_{uuid.uuid4().hex}"}
            body = json.dumps(document).encode()
            signature = sign(body, SECRET) if signed else "0" * 64
            answer = client.post(
                paths.WEBHOOK, content=body, headers={"Timemoto-Signature": signature}
            )
            codes.append(answer.status_code)
    return codes


def headline(service: ServiceProcess) -> dict[str, str]:
    answer = httpx.get(
        f"{service.base_url}{paths.API_STATUS}", auth=("admin", PASSWORD), timeout=30
    )
    return dict(answer.json()["headline"])


def photograph(browser: str | None, service: ServiceProcess, state: str, tmp: Path) -> None:
    if browser is None:
        return  # the headline's text is checked above; the pictures need Chromium
    url = f"http://admin:{PASSWORD}@127.0.0.1:{service.port}{paths.STATUS}"
    REPORTS.mkdir(exist_ok=True)
    for width in WIDTHS:
        path = REPORTS / f"status-{state}-{width}.png"
        chromium.screenshot(browser, url, tmp / f"profile-{state}-{width}", path, f"{width},1400")
        assert path.stat().st_size > 10_000, path  # a page, not an empty frame
        dom = chromium.dump_dom(browser, url, tmp / f"dom-{state}-{width}", width)
        assert 'id="etat"' in dom


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_all_well_is_green(database_url: str, work: Path, browser: str | None) -> None:
    with ServiceProcess(work, env_for(work, database_url)) as service:
        assert deliver(service) == [200]
        shown = headline(service)
        assert shown["level"] == "ok" and shown["title"].startswith("Tout fonctionne")
        photograph(browser, service, "ok", work)


def test_a_database_timing_out_with_deliveries_waiting_is_orange(
    database_url: str, proxy: FaultProxy, work: Path, browser: str | None
) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port, query={})
    proxy.set_mode("pass")
    with ServiceProcess(work, env_for(work, url.render_as_string(hide_password=False))) as service:
        proxy.set_mode("blackhole")
        try:
            assert set(deliver(service, 3)) == {202}
            assert wait_until(lambda: headline(service)["level"] == "warn", DEADLINE)
            shown = headline(service)
            assert "Base de données indisponible" in shown["title"]
            assert "la base ne répond pas dans le délai" in shown["title"]
            assert "3 livraisons en attente, rien n'est perdu" in shown["title"]
            assert any(a.startswith("À faire") for a in shown["actions"])
            photograph(browser, service, "timeout", work)
        finally:
            proxy.set_mode("pass")


def test_stranded_deliveries_are_red(database_url: str, work: Path, browser: str | None) -> None:
    elsewhere = f"postgresql://erp@127.0.0.1:{free_port()}/erp"  # nothing listens there
    with ServiceProcess(work, env_for(work, elsewhere)) as service:
        assert deliver(service, 2) == [202, 202]
    with ServiceProcess(work, env_for(work, database_url)) as service:  # the corrected URL
        # Never green; red once the monitor raises the "stranded" alert (its first look).
        assert headline(service)["level"] in ("warn", "bad")
        assert wait_until(lambda: headline(service)["level"] == "bad", DEADLINE)
        shown = headline(service)
        assert shown["title"] == "Des livraisons sont bloquées pour une autre base"
        assert any("spool retarget" in action for action in shown["actions"])
        photograph(browser, service, "stranded", work)


def test_an_alert_raised_is_red(database_url: str, work: Path, browser: str | None) -> None:
    with ServiceProcess(work, env_for(work, database_url)) as service:
        assert deliver(service, 5, signed=False) == [401] * 5
        assert wait_until(lambda: headline(service)["level"] == "bad", DEADLINE)
        assert headline(service)["title"].startswith("Alerte en cours")
        photograph(browser, service, "alert", work)
