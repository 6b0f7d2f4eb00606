"""Nothing at the edge stops deliveries (issue 26): `python -m service serve` alone, attacked.

The service runs with LIMIT_CONCURRENCY=300 (so at most 299 connections), HEADER_TIMEOUT and
BODY_TIMEOUT of 3 s; each attack opens more connections than that (400), holds them for ~12 s
and reconnects whatever the service closes, while signed deliveries are sent one by one on new
connections. Every delivery must be answered 200 (or 202), none 503, the worker's memory must
stay within +100 MB, and every acknowledged delivery must reach `pointage`.
"""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from service.http import paths
from simulator.flood import ServeProcess, raise_own_fd_limit
from simulator.harness import Database, wait_until
from tests.support.attacks import (
    HEAD,
    Attack,
    Tally,
    children,
    deliveries_during,
    huge_headers,
    raw_request,
    rss_mb,
    slow_body,
    slowloris,
)
from tests.support.hardening import env_for, stored

ATTACKERS = 400  # over the 299 connections the service keeps
SECONDS = 12.0
PASSWORD = "correct horse battery staple"
RSS_HEADROOM_MB = 100


@pytest.fixture(scope="module")
def service(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    raise_own_fd_limit(4096)
    workdir = tmp_path_factory.mktemp("edge")
    env = env_for(
        database_url,
        workdir,
        LIMIT_CONCURRENCY="300",
        HEADER_TIMEOUT="3",
        BODY_TIMEOUT="3",
        ADMIN_PASSWORD=PASSWORD,
    )
    with ServeProcess(workdir, env) as running:
        yield running
    assert "Traceback" not in running.log()


def worker_rss(service: ServeProcess) -> float:
    assert service.process is not None
    (worker,) = children(service.process.pid)
    return rss_mb(worker)


def held(service: ServeProcess, database_url: str, tally: Tally, before: float, name: str) -> None:
    after = worker_rss(service)
    print(f"\n{name}: deliveries {tally}; worker RSS {before:.0f} -> {after:.0f} MB")
    assert tally.sent >= 20, tally
    assert set(tally.answers) <= {200, 202}, tally
    assert after - before < RSS_HEADROOM_MB
    database = Database(database_url)
    ids = tally.acknowledged
    assert wait_until(lambda: stored(database, ids) == len(ids), 30), "acknowledged, not stored"


def test_slow_bodies_cannot_fill_the_connections(service: ServeProcess, database_url: str) -> None:
    before = worker_rss(service)
    with Attack(slow_body("127.0.0.1", service.port, ATTACKERS)) as attack:
        tally = deliveries_during(SECONDS, service.base_url + paths.WEBHOOK, "slowbody")
    held(service, database_url, tally, before, "slow bodies")
    assert attack.result.closed_by_server > 0  # the service closed slow ones (deadline or room)


def test_header_slowloris_at_scale(service: ServeProcess, database_url: str) -> None:
    before = worker_rss(service)
    with Attack(slowloris("127.0.0.1", service.port, ATTACKERS)) as attack:
        tally = deliveries_during(SECONDS, service.base_url + paths.WEBHOOK, "slowloris")
    held(service, database_url, tally, before, "header slowloris")
    assert attack.result.opened > ATTACKERS  # closed ones came back, and were closed again


def test_huge_headers_get_431_and_hold_no_memory(service: ServeProcess, database_url: str) -> None:
    answer = raw_request(
        "127.0.0.1", service.port, b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert b"nosniff" in answer
    before = worker_rss(service)
    with Attack(huge_headers("127.0.0.1", service.port, clients=10, megabytes=40)) as attack:
        tally = deliveries_during(SECONDS / 2, service.base_url + paths.WEBHOOK, "bighead")
    held(service, database_url, tally, before, "10 x 40 MB headers")
    assert attack.result.answers.keys() <= {b"HTTP/1.1 431 Request Header Fields Too Large"}


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()}


def test_rotating_forwarded_for_is_not_believed_and_the_admin_gets_in(
    service: ServeProcess, database_url: str
) -> None:
    """No TRUSTED_PROXIES: X-Forwarded-For is ignored, so the guesser (127.0.0.1) is locked out
    after 5 failures whatever it writes there; the admin, from 127.0.0.2, is never refused."""
    answers: list[int] = []
    with httpx.Client(base_url=service.base_url, timeout=10) as guesser:
        for n in range(200):
            headers = {**basic(f"guess-{n}"), "X-Forwarded-For": f"203.0.113.{n % 250}"}
            answers.append(guesser.get(paths.API_STATUS, headers=headers).status_code)
    assert answers[:5] == [401] * 5
    assert set(answers[5:]) == {429}
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=service.base_url, transport=transport, timeout=30) as admin:
        assert admin.get(paths.API_STATUS, headers=basic(PASSWORD)).status_code == 200
    tally = deliveries_during(2, service.base_url + paths.WEBHOOK, "guesses")
    held(service, database_url, tally, worker_rss(service), "guesses")
    assert service.log().count("operators' sign-in from 127.0.0.1 throttled") == 1
    assert service.log().count("proxy headers from 127.0.0.1 ignored") == 1


def test_a_body_that_stops_coming_is_closed_after_body_timeout(service: ServeProcess) -> None:
    """Below the ceiling nothing needs room: the deadline alone closes it (BODY_TIMEOUT=3)."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=20) as slow:
        slow.sendall(HEAD + b"Content-Length: 100\r\nTimemoto-Signature: 00\r\n\r\n{")
        started = time.monotonic()
        assert slow.recv(1) == b""  # closed by the service, without an answer
        assert 2.5 < time.monotonic() - started < 10
    metrics = httpx.get(service.base_url + paths.METRICS, timeout=10).text
    assert 'timemoto_http_connections_closed_total{reason="body_timeout"}' in metrics
