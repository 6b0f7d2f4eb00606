"""nginx in front (issue 26): the shipped site (deploy/nginx/) with a self-signed certificate, two
instances of `python -m service serve` behind it and a stand-in for the ERP's Node backend.

Deliveries over HTTPS reach the service and the other paths the ERP; the attacks of
test_edge_attacks.py, sent to nginx, are absorbed there (deliveries meanwhile all 200/202, the
workers' memory within +100 MB); the operators' rate limit sees the real client through
X-Forwarded-For; a rolling restart of both instances (SIGTERM) under 500 deliveries refuses
none and loses none. nginx comes from Debian (installed here with apt-get where allowed), else
the module is skipped with the reason. Then the same with pm2: the shipped ecosystem file runs
two instances, and `pm2 reload` (pm2 from npm, else that test is skipped with the reason)
restarts them one after the other under 500 deliveries.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from service.http import paths
from simulator.flood import ServeProcess, raise_own_fd_limit
from simulator.harness import Database, free_port, wait_until
from tests.support.attacks import (
    Attack,
    Tally,
    children,
    deliveries_during,
    huge_headers,
    rss_mb,
    slow_body,
    slowloris,
)
from tests.support.hardening import env_for, stored
from tests.support.nginx import (
    ERP_ANSWER,
    ROOT,
    ErpStandIn,
    Nginx,
    render_site,
)
from tests.support.restarts import Load, environment, lost
from tests.support.tools import tool_or_skip
from tests.support.webhook import SECRET as WEBHOOK_SECRET

PASSWORD = "correct horse battery staple"
ATTACKERS = 400
SECONDS = 12.0
RSS_HEADROOM_MB = 100
DELIVERIES = 500
ECOSYSTEM = ROOT / "deploy" / "ecosystem.config.js"


@dataclass
class Edge:
    nginx: Nginx
    instances: list[ServeProcess]
    erp: ErpStandIn

    @property
    def webhook(self) -> str:
        return self.nginx.base_url + paths.WEBHOOK

    def tls(self) -> ssl.SSLContext:
        return self.nginx.ca

    def workers_rss(self) -> list[float]:
        found = []
        for instance in self.instances:
            assert instance.process is not None
            (worker,) = children(instance.process.pid)
            found.append(rss_mb(worker))
        return found


@pytest.fixture(scope="module")
def edge(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    binary = tool_or_skip("nginx", "nginx-light")
    raise_own_fd_limit(4096)
    work = tmp_path_factory.mktemp("nginx")
    instances = []
    for name in ("a", "b"):
        env = env_for(
            database_url,
            work / name,
            LIMIT_CONCURRENCY="300",
            HEADER_TIMEOUT="3",
            BODY_TIMEOUT="3",
            ADMIN_PASSWORD=PASSWORD,
            TRUSTED_PROXIES="127.0.0.1",
        )
        instances.append(ServeProcess(work / name, env))
    with ErpStandIn() as erp:
        for instance in instances:
            instance.start()
        https_port = free_port()
        site = render_site(work, free_port(), https_port, [i.port for i in instances], erp.port)
        nginx = Nginx(binary, work, https_port)
        try:
            nginx.start(site)
            yield Edge(nginx, instances, erp)
        finally:
            nginx.stop()
            for instance in instances:
                instance.stop()
    for instance in instances:
        assert "Traceback" not in instance.log()


def held(edge: Edge, database_url: str, tally: Tally, before: list[float], name: str) -> None:
    after = edge.workers_rss()
    rss = ", ".join(f"{b:.0f} -> {a:.0f} MB" for b, a in zip(before, after, strict=True))
    print(f"\nbehind nginx, {name}: deliveries {tally}; workers' RSS {rss}")
    assert tally.sent >= 20, tally
    assert set(tally.answers) <= {200, 202}, tally
    assert all(a - b < RSS_HEADROOM_MB for b, a in zip(before, after, strict=True))
    database = Database(database_url)
    ids = tally.acknowledged
    assert wait_until(lambda: stored(database, ids) == len(ids), 30), "acknowledged, not stored"


def test_deliveries_over_https_and_the_rest_to_the_erp(edge: Edge, database_url: str) -> None:
    tally = deliveries_during(3, edge.webhook, "https", verify=edge.nginx.ca)
    held(edge, database_url, tally, edge.workers_rss(), "plain deliveries")
    with httpx.Client(base_url=edge.nginx.base_url, verify=edge.nginx.ca, timeout=10) as client:
        for path in ("/", "/api/clients", "/api/webhooks/other", "/statusx"):
            answer = client.get(path)
            assert (answer.status_code, answer.content) == (200, ERP_ANSWER), path
        verifier = client.get(paths.VERIFIER)
        assert verifier.status_code == 200 and verifier.content != ERP_ANSWER
        assert client.get(paths.STATUS).status_code == 401  # the service's, not the ERP's
        assert client.get(paths.EXPORT + "/2026-11.csv").status_code == 401


def test_slow_bodies_through_nginx(edge: Edge, database_url: str) -> None:
    before = edge.workers_rss()
    port = edge.nginx.https_port
    with Attack(slow_body("127.0.0.1", port, ATTACKERS, edge.tls())):
        tally = deliveries_during(SECONDS, edge.webhook, "ngx-slowbody", verify=edge.nginx.ca)
    held(edge, database_url, tally, before, "slow bodies")


def test_header_slowloris_through_nginx(edge: Edge, database_url: str) -> None:
    before = edge.workers_rss()
    port = edge.nginx.https_port
    with Attack(slowloris("127.0.0.1", port, ATTACKERS, edge.tls())):
        tally = deliveries_during(SECONDS, edge.webhook, "ngx-slowloris", verify=edge.nginx.ca)
    held(edge, database_url, tally, before, "header slowloris")


def test_huge_headers_through_nginx(edge: Edge, database_url: str) -> None:
    before = edge.workers_rss()
    attack = huge_headers("127.0.0.1", edge.nginx.https_port, 10, 40, edge.tls())
    with Attack(attack) as running:
        tally = deliveries_during(SECONDS / 2, edge.webhook, "ngx-bighead", verify=edge.nginx.ca)
    held(edge, database_url, tally, before, "10 x 40 MB headers")
    assert not any(b" 200 " in status for status in running.result.answers), running.result


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()}


def test_the_rate_limit_sees_the_real_client_through_nginx(edge: Edge) -> None:
    """The guesser (127.0.0.1, rotating its own X-Forwarded-For) is locked out on each instance
    after 5 failures; the admin (127.0.0.2), through the same nginx, is let in: the service
    keys the limit on the address nginx saw, not on nginx's."""
    answers: list[int] = []
    with httpx.Client(base_url=edge.nginx.base_url, verify=edge.nginx.ca, timeout=10) as guesser:
        for n in range(100):
            headers = {**basic(f"guess-{n}"), "X-Forwarded-For": f"203.0.113.{n}"}
            answers.append(guesser.get(paths.API_STATUS, headers=headers).status_code)
    assert answers.count(401) <= 5 * len(edge.instances), answers
    assert set(answers[-50:]) == {429}, answers
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=edge.nginx.ca)
    with httpx.Client(base_url=edge.nginx.base_url, transport=transport, timeout=30) as admin:
        for _ in range(2 * len(edge.instances)):  # each instance in turn
            assert admin.get(paths.API_STATUS, headers=basic(PASSWORD)).status_code == 200
    logs = "".join(instance.log() for instance in edge.instances)
    assert "sign-in from 127.0.0.1 throttled" in logs
    assert "203.0.113." not in logs  # what the guesser wrote was never believed


def test_a_rolling_restart_behind_nginx_refuses_nothing(edge: Edge, database_url: str) -> None:
    load = Load(edge.nginx.base_url, WEBHOOK_SECRET, DELIVERIES, verify=edge.nginx.ca)
    load.start(20.0)
    for turn, instance in enumerate(edge.instances):
        wait_until(lambda t=turn: load.progress > DELIVERIES * (t + 1) // 3, 60)
        instance.stop()  # SIGTERM: requests in flight finish, then it exits
        instance.start()  # on the same port; nginx sent everything to the other meanwhile
    outcome = load.join()
    missing = lost(Database(database_url), outcome.acknowledged)
    print(
        f"\nbehind nginx, rolling restart (SIGTERM) of 2 instances: {outcome.sent} deliveries, "
        f"{outcome.refused} refused, {outcome.failed} failed, {outcome.other} other, "
        f"{len(missing)} lost"
    )
    assert outcome.sent == DELIVERIES
    assert (outcome.refused, outcome.failed, outcome.other) == (0, 0, {}), outcome
    assert missing == []


def _two_free_ports() -> int:
    """A port p with p + 1 free too (pm2 gives its instances PORT, PORT + 1)."""
    for _ in range(50):
        first = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", first + 1))
            except OSError:
                continue
        return first
    raise AssertionError("no two free ports in a row")


def _pm2_pids(pm2: str, env: dict[str, str]) -> list[int]:
    listing = subprocess.run(
        [pm2, "jlist"], env=env, check=True, capture_output=True, text=True, timeout=60
    )
    return sorted(app["pid"] for app in json.loads(listing.stdout))


def test_pm2_reload_of_two_instances_behind_nginx_refuses_nothing(
    edge: Edge, database_url: str, tmp_path: Path
) -> None:
    """The shipped ecosystem file with POINTAGE_INSTANCES=2, `pm2 reload timemoto-pointage`
    twice under 500 deliveries through the shipped nginx site."""
    pm2 = tool_or_skip("pm2", "pm2", npm=True)
    binary = tool_or_skip("nginx", "nginx-light")  # the module's fixture found it
    port = _two_free_ports()
    env = environment(
        {
            "PM2_HOME": str(tmp_path / "pm2"),
            "POINTAGE_INSTANCES": "2",
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": database_url,
            "DATA_DIR": str(tmp_path / "data"),
            "SPOOL_DIR": str(tmp_path / "data" / "spool"),
        }
    )

    def run(*args: str) -> None:
        subprocess.run([pm2, *args], env=env, check=True, timeout=180, capture_output=True)

    https_port = free_port()
    site = render_site(tmp_path, free_port(), https_port, [port, port + 1], edge.erp.port)
    nginx = Nginx(binary, tmp_path, https_port)
    run("start", str(ECOSYSTEM))  # returns once both serve (wait_ready)
    try:
        nginx.start(site)
        for instance in (port, port + 1):
            url = f"http://127.0.0.1:{instance}/ready"
            assert wait_until(lambda u=url: _answers(u), 60), url
        started = _pm2_pids(pm2, env)
        load = Load(nginx.base_url, WEBHOOK_SECRET, DELIVERIES, verify=nginx.ca).start(20.0)
        for turn in range(2):
            wait_until(lambda t=turn: load.progress > DELIVERIES * (t + 1) // 3, 60)
            run("reload", "timemoto-pointage")  # one instance after the other
        outcome = load.join()
        reloaded = _pm2_pids(pm2, env)
    finally:
        nginx.stop()
        subprocess.run([pm2, "kill"], env=env, check=False, timeout=120, capture_output=True)
    missing = lost(Database(database_url), outcome.acknowledged)
    print(
        f"\nbehind nginx, pm2 reload (2 instances) twice: {outcome.sent} deliveries, "
        f"{outcome.refused} refused, {outcome.failed} failed, {outcome.other} other, "
        f"{len(missing)} lost"
    )
    assert set(started).isdisjoint(reloaded)  # both were restarted
    assert outcome.sent == DELIVERIES
    assert (outcome.refused, outcome.failed, outcome.other) == (0, 0, {}), outcome
    assert missing == []


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False
