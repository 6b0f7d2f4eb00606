"""One bad delivery never stops the others (CONTRACT §1): a hostile corpus over real HTTP.

Invariants, with the database up and again with it black-holed while the corpus arrives:
- no answer is a 5xx, and a 4xx always says why;
- every delivery answered 200 `stored` or 202 `queued` ends in `pointage` (or, for other events,
  in the inbox), once the spool has drained;
- a normal delivery sent after the corpus is answered 200 `stored`, and the verifier says ok.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import WEBHOOK_SECRET
from service.db.schema import schema_sql
from service.domain.signature import sign
from service.http import paths
from simulator.harness import Database, ServiceProcess, wait_until
from simulator.proxy import FaultProxy, proxied_url, upstream_of
from tests.support.hostile import a_document, hostile_bodies, unsigned_bodies
from tests.support.outage import service_env

ACKNOWLEDGED = {(200, "stored"), (200, "duplicate"), (200, "ignored"), (200, "applied")}


@dataclass(frozen=True)
class Sent:
    name: str
    body: bytes
    status: int
    answer: dict[str, object]


def send(client: httpx.Client, name: str, body: bytes, signed: bool = True) -> Sent:
    headers = {"Content-Type": "application/json"}
    if signed:
        headers["Timemoto-Signature"] = sign(body, WEBHOOK_SECRET)
    response = client.post(paths.WEBHOOK, content=body, headers=headers)
    return Sent(name, body, response.status_code, response.json())


def landed(database: Database, event_id: str) -> bool:
    in_pointage = database.value("SELECT count(*) FROM pointage WHERE event_id = $1", event_id)
    in_inbox = database.value(
        "SELECT count(*) FROM pointage_evenement WHERE event_id = $1", event_id
    )
    return bool(in_pointage or in_inbox)


def check_invariants(sent: list[Sent], database: Database, client: httpx.Client) -> None:
    server_errors = [(s.name, s.status) for s in sent if s.status >= 500]
    assert not server_errors
    for s in sent:
        if 400 <= s.status < 500:
            assert s.answer["status"] == "error" and s.answer.get("reason"), s.name
    acknowledged = [s for s in sent if s.status in (200, 202)]
    assert acknowledged, "the corpus holds valid deliveries too"
    for s in acknowledged:
        assert (s.status, s.answer["status"]) in ACKNOWLEDGED | {(202, "queued")}, s.name
    ids = {str(s.answer["event_id"]) for s in acknowledged}
    assert wait_until(lambda: all(landed(database, i) for i in ids), 60), [
        i for i in ids if not landed(database, i)
    ]
    # The service still takes deliveries as usual, straight into the database.
    normal = send(client, "normal", json.dumps(a_document()).encode())
    assert (normal.status, normal.answer["status"]) == (200, "stored")
    verifier = client.get(paths.VERIFIER)
    assert verifier.status_code == 200, verifier.text
    assert verifier.json()["spool"]["pending"] == 0


def test_the_corpus_is_large_and_names_are_unique() -> None:
    names = [name for name, _ in hostile_bodies()]
    assert len(names) >= 200
    assert len(set(names)) == len(names)


def test_a_hostile_corpus_never_makes_a_5xx_and_loses_nothing(
    service: ServiceProcess, database: Database
) -> None:
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        sent = [send(client, name, body) for name, body in hostile_bodies()]
        check_invariants(sent, database, client)
    statuses = {s.status for s in sent}
    assert {200, 400, 413, 422} <= statuses


def test_unsigned_bodies_are_401_and_never_read(service: ServiceProcess) -> None:
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        for name, body in unsigned_bodies():
            sent = send(client, name, body, signed=False)
            assert sent.status == 401, name
            assert "event_id" not in sent.answer, name


@pytest.fixture(scope="module")
def proxy(database_url: str, database: Database) -> Iterator[FaultProxy]:
    database.execute(schema_sql())
    with FaultProxy(upstream_of(database_url)).start() as running:
        yield running


@pytest.fixture(scope="module")
def proxied(
    proxy: FaultProxy, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    workdir = tmp_path_factory.mktemp("hostile-proxied")
    env = service_env(proxied_url(database_url, proxy.port), workdir)
    with ServiceProcess(workdir, env) as running:
        yield running


def test_a_hostile_corpus_queued_during_an_outage_all_lands(
    proxied: ServiceProcess, proxy: FaultProxy, database: Database
) -> None:
    """Queued means decided: whatever was answered 202 reaches `pointage` once the database is
    back, and nothing in the corpus holds up the ones behind it."""
    with httpx.Client(base_url=proxied.base_url, timeout=30) as client:
        proxy.set_mode("refuse")
        try:
            sent = [send(client, name, body) for name, body in hostile_bodies()]
        finally:
            proxy.set_mode("pass")
        assert any(s.status == 202 for s in sent)
        check_invariants(sent, database, client)


# Structured mutations of the sample: each field replaced by any JSON value.
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
_mutations = st.dictionaries(
    st.sampled_from(
        [
            "userId",
            "timeZone",
            "timeLogged",
            "timeLoggedRounded",
            "timeInserted",
            "clockingActionTypeId",
            "clockingType",
            "recordHash",
            "recordIgnored",
            "comment",
        ]
    ),
    _json,
    max_size=4,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=_mutations,
    top=st.dictionaries(st.sampled_from(["id", "event", "sequence", "extra"]), _json, max_size=2),
)
def test_mutations_of_the_sample_are_answered_and_kept(
    service: ServiceProcess, database: Database, data: dict[str, object], top: dict[str, object]
) -> None:
    document = a_document()
    document["data"].update(data)
    document.update(top)
    body = json.dumps(document).encode()
    with httpx.Client(base_url=service.base_url, timeout=30) as client:
        sent = send(client, "mutation", body)
    assert sent.status < 500
    if sent.status in (200, 202):
        assert landed(database, str(sent.answer["event_id"]))
    else:
        assert sent.status in (400, 422) and sent.answer.get("reason")


def test_a_sender_that_hangs_up_mid_body_is_not_a_server_error(service: ServiceProcess) -> None:
    import socket

    def count(answer: str, status: str) -> float:
        text = httpx.get(f"{service.base_url}{paths.METRICS}", timeout=10).text
        line = f'timemoto_deliveries_total{{answer="{answer}",http_status="{status}"}}'
        values = [float(row.split()[-1]) for row in text.splitlines() if row.startswith(line)]
        return values[0] if values else 0.0

    before = count("client_disconnected", "499")
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(
            f"POST {paths.WEBHOOK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            'Content-Length: 1000\r\nTimemoto-Signature: 00\r\n\r\n{"id": "tm'.encode()
        )
    assert wait_until(lambda: count("client_disconnected", "499") == before + 1, 10)
    assert count("error", "500") == 0
    assert "Traceback" not in service.log()
