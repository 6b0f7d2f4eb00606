"""One bad delivery never stops the others (docs/contract.md §1): a hostile corpus over HTTP, to the
service in this process (a sender hanging up mid-body needs a real server:
system/test_client_hangup.py).

Invariants, with the database up and again with it black-holed while the corpus arrives:
- no answer is a 5xx, and a 4xx always says why;
- every delivery answered 200 `stored` or 202 `queued` ends in `pointage` (or, for other events,
  in the inbox), once the spool has drained;
- a normal delivery sent after the corpus is answered 200 `stored`, and the verifier says ok.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.db.schema import schema_sql
from service.domain.signature import sign
from service.http import paths
from simulator.proxy import FaultProxy, proxied_url
from tests.support.databases import Database
from tests.support.hostile import DATA_FIELDS, a_document, hostile_bodies, unsigned_bodies
from tests.support.service import InProcessService, service_settings, wait_until
from tests.support.webhook import SECRET

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
        headers["Timemoto-Signature"] = sign(body, SECRET)
    response = client.post(paths.WEBHOOK, content=body, headers=headers)
    return Sent(name, body, response.status_code, response.json())


def not_landed(database: Database, event_ids: Iterable[str]) -> list[str]:
    """The ids in neither `pointage` nor the inbox: one query however many ids, so that polling
    for them does not load the machine (nor the service, which shares this process)."""
    wanted = sorted(set(event_ids))
    rows = database.fetch(
        "SELECT event_id FROM pointage_horodatage WHERE event_id = ANY($1::text[])"
        " UNION SELECT event_id FROM pointage_evenement WHERE event_id = ANY($1::text[])",
        wanted,
    )
    found = {row["event_id"] for row in rows}
    return [event_id for event_id in wanted if event_id not in found]


def landed(database: Database, event_id: str) -> bool:
    return not not_landed(database, [event_id])


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
    assert wait_until(lambda: not not_landed(database, ids), 60), not_landed(database, ids)
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
    client: httpx.Client, database: Database
) -> None:
    sent = [send(client, name, body) for name, body in hostile_bodies()]
    check_invariants(sent, database, client)
    statuses = {s.status for s in sent}
    assert {200, 400, 413, 422} <= statuses


def test_unsigned_bodies_are_401_and_never_read(client: httpx.Client) -> None:
    for name, body in unsigned_bodies():
        sent = send(client, name, body, signed=False)
        assert sent.status == 401, name
        assert "event_id" not in sent.answer, name


@pytest.fixture(scope="module")
def proxied(
    proxy: FaultProxy, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessService]:
    workdir = tmp_path_factory.mktemp("hostile-proxied")
    settings = service_settings(proxied_url(database_url, proxy.port), workdir, quick=True)
    with InProcessService(settings) as running:
        yield running


def test_a_hostile_corpus_queued_during_an_outage_all_lands(
    proxied: InProcessService, proxy: FaultProxy, database: Database
) -> None:
    """Queued means decided: whatever was answered 202 reaches `pointage` once the database is
    back, and nothing in the corpus holds up the ones behind it."""
    client = proxied.client
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
    st.sampled_from(DATA_FIELDS),
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
    client: httpx.Client, database: Database, data: dict[str, object], top: dict[str, object]
) -> None:
    document = a_document()
    document["data"].update(data)
    document.update(top)
    body = json.dumps(document).encode()
    sent = send(client, "mutation", body)
    assert sent.status < 500
    if sent.status in (200, 202):
        assert landed(database, str(sent.answer["event_id"]))
    else:
        assert sent.status in (400, 422) and sent.answer.get("reason")


REFUSE_USER = "refuse-me"
CHECK = (
    "ALTER TABLE pointage_horodatage ADD CONSTRAINT test_refuse_one_user"
    f" CHECK (timemoto_user_id <> '{REFUSE_USER}')"
)


@pytest.fixture
def database_refuses_one_user(database: Database) -> Iterator[None]:
    """A rule only the database knows: its refusal is that one delivery's problem."""
    database.execute(schema_sql())
    database.execute(CHECK)
    yield
    database.execute("ALTER TABLE pointage_horodatage DROP CONSTRAINT test_refuse_one_user")


def refused_delivery() -> bytes:
    document = a_document()
    document["data"]["userId"] = REFUSE_USER
    return json.dumps(document).encode()


def test_a_delivery_the_database_refuses_is_422_and_the_next_is_stored(
    client: httpx.Client, database: Database, database_refuses_one_user: None
) -> None:
    bad = send(client, "refused", refused_delivery())
    assert bad.status == 422
    assert "refused by the database" in str(bad.answer["reason"])
    good = send(client, "normal", json.dumps(a_document()).encode())
    assert (good.status, good.answer["status"]) == (200, "stored")  # not queued
    assert client.get(paths.VERIFIER).status_code == 200


def test_a_spooled_delivery_the_database_refuses_is_set_aside_and_the_rest_drains(
    proxied: InProcessService,
    proxy: FaultProxy,
    database: Database,
    database_refuses_one_user: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = proxied.client
    proxy.set_mode("refuse")
    try:
        bad = send(client, "refused", refused_delivery())
        goods = [send(client, "normal", json.dumps(a_document()).encode()) for _ in range(3)]
    finally:
        proxy.set_mode("pass")
    assert [s.status for s in [bad, *goods]] == [202] * 4  # nothing could be known then
    good_ids = [str(g.answer["event_id"]) for g in goods]
    assert wait_until(lambda: all(landed(database, i) for i in good_ids), 60)
    assert wait_until(lambda: client.get(paths.VERIFIER).json()["spool"]["pending"] == 0, 30)
    assert not landed(database, str(bad.answer["event_id"]))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("moved to the quarantine, the database refuses it" in w for w in warnings)
