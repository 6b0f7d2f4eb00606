"""The fault-injecting proxy's URLs: where it connects, and the URL that goes through it."""

from __future__ import annotations

from simulator.proxy import proxied_url, upstream_of


def test_upstream_of_a_tcp_url_and_of_a_socket_url() -> None:
    assert upstream_of("postgresql://erp:pw@db.local:6543/erp") == "db.local:6543"
    assert upstream_of("postgresql://erp@db.local/erp") == "db.local:5432"
    embedded = "postgresql://postgres:@/postgres?host=/srv/pg/pgdata"
    assert upstream_of(embedded) == "/srv/pg/pgdata/.s.PGSQL.5432"
    assert upstream_of(embedded + "&port=5433") == "/srv/pg/pgdata/.s.PGSQL.5433"


def test_proxied_url_keeps_user_password_and_database() -> None:
    assert (
        proxied_url("postgresql://erp:pw@db.local:6543/erp?sslmode=disable", 7000)
        == "postgresql://erp:pw@127.0.0.1:7000/erp?sslmode=disable"
    )
    assert (
        proxied_url("postgresql://postgres:@/postgres?host=/srv/pg/pgdata", 7000)
        == "postgresql://postgres:@127.0.0.1:7000/postgres"
    )
