"""DATABASE_URL read as libpq reads a URI (service/db/url.py), and what the spool is keyed by."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.engine import make_url

from service.db.engine import DatabaseTarget
from service.db.url import DatabaseUrl, check_database_url
from service.settings import ConfigurationError, Settings

SETTINGS = Settings(webhook_secrets=("x",), connect_timeout=3.0)


def _label_before(url: str) -> str:
    """The label (hence the spool's key) as the service computed it before it read several
    hosts: a spool written then must still drain after the upgrade."""
    dsn = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)
    parsed = make_url(dsn)
    host = parsed.host or str(parsed.query.get("host", "local socket"))
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.username or ''}@{host}{port}/{parsed.database or ''}"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://erp:secret@db.example.com:5499/erp",
        "postgres://erp@db.example.com/erp",
        "postgresql+asyncpg://erp:p%40ss@10.0.0.5:5432/erp",
        "postgresql://postgres:@/postgres?host=/tmp/embedded/socket",
        "postgresql:///erp",
        "postgresql://erp:x@[::1]:5432/erp",
    ],
)
def test_the_label_of_a_url_the_service_read_before_is_unchanged(url: str) -> None:
    assert DatabaseTarget.from_url(url, SETTINGS).label == _label_before(url)


def test_a_url_that_only_gains_tls_or_session_parameters_names_the_same_database() -> None:
    plain = DatabaseTarget.from_url("postgresql://erp:pw@db:5432/erp", SETTINGS)
    for query in (
        "sslmode=require",
        "ssl=true",
        "sslmode=verify-full&sslrootcert=/etc/ca.pem&connect_timeout=10",
        "application_name=pointage&options=-c%20search_path%3Derp",
    ):
        other = DatabaseTarget.from_url(f"postgresql://erp:other@db:5432/erp?{query}", SETTINGS)
        assert other.key == plain.key, query
    moved = DatabaseTarget.from_url("postgresql://erp:pw@db2:5432/erp", SETTINGS)
    assert moved.key != plain.key
    assert "pw" not in plain.label and "other" not in other.label


def test_several_hosts_each_with_its_port() -> None:
    url = DatabaseUrl.parse(
        "postgresql://erp:s3cret@pg1.example.com:5499,pg2.example.com,[::1]:6000/erp"
        "?target_session_attrs=read-write&connect_timeout=4"
    )
    assert url.hosts == ("pg1.example.com", "pg2.example.com", "::1")
    assert url.ports == (5499, None, 6000)
    assert url.target_session_attrs == "read-write"
    assert (url.user, url.password, url.database) == ("erp", "s3cret", "erp")
    target = DatabaseTarget.from_url(url_text := "postgresql://u@h1:1,h2:2/d", SETTINGS)
    assert target.label == "u@h1:1,h2:2/d" and target.connect_deadline == 6.0, url_text


def test_the_query_host_and_port_replace_the_authority_s_as_in_libpq() -> None:
    url = DatabaseUrl.parse("postgresql://erp@ignored/erp?host=/run/postgresql&port=5433")
    assert (url.hosts, url.ports) == (("/run/postgresql",), (5433,))
    url = DatabaseUrl.parse("postgresql://erp@a,b/erp?port=5433")
    assert url.ports == (5433, 5433)
    url = DatabaseUrl.parse("postgresql://erp@a,b/erp?port=1,2")
    assert url.ports == (1, 2)


def test_ssl_true_is_sslmode_require_and_tls_parameters_reach_the_driver_only() -> None:
    assert DatabaseUrl.parse("postgresql://u@h/d?ssl=true").sslmode == "require"
    assert DatabaseUrl.parse("postgresql://u@h/d?ssl=false").sslmode == "disable"
    url = DatabaseUrl.parse(
        "postgresql://u@h/d?sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c&sslkey=/k"
        "&application_name=x&options=-c%20search_path%3Derp"
    )
    assert url.tls_dsn() == (
        "postgresql://?sslmode=verify-full&sslrootcert=%2Fca.pem&sslcert=%2Fc&sslkey=%2Fk"
    )
    # What the server applies at the session's start: never sslmode, connect_timeout, ssl...
    assert url.startup_settings() == {"application_name": "x", "options": "-c search_path=erp"}
    assert DatabaseUrl.parse("postgresql://u@h/d").startup_settings() == {
        "application_name": "timemoto-pointage"
    }


def test_connect_timeout_in_the_url_wins_over_db_connect_timeout() -> None:
    assert DatabaseTarget.from_url("postgresql://u@h/d?connect_timeout=10", SETTINGS) \
        .connect_timeout == 10  # fmt: skip
    assert DatabaseTarget.from_url("postgresql://u@h/d", SETTINGS).connect_timeout == 3.0
    # libpq: 0 is "wait forever", which this service never does: DB_CONNECT_TIMEOUT then.
    assert DatabaseTarget.from_url("postgresql://u@h/d?connect_timeout=0", SETTINGS) \
        .connect_timeout == 3.0  # fmt: skip


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://u:pw@h/d?sslmode=require&foo=1", "the parameter 'foo'"),
        ("postgresql://u:pw@h/d?statement_timeout=5000", "the parameter 'statement_timeout'"),
        ("postgresql://u:pw@h/d?sslmode=required", "sslmode='required'"),
        ("postgresql://u:pw@h/d?target_session_attrs=master", "target_session_attrs='master'"),
        ("postgresql://u:pw@h/d?connect_timeout=2.5", "connect_timeout='2.5'"),
        ("postgresql://u:pw@h/d?ssl=maybe", "ssl='maybe'"),
        ("postgresql://u:pw@h/d?ssl=true&sslmode=disable", "disagree"),
        ("postgresql://u:pw@h1:5432,h2:54x2/d", "'54x2'"),
        ("postgresql://u:pw@h1:5432,,h2/d", "an empty host"),
        ("postgresql://u:pw@a,b,c/d?port=1,2", "2 ports for 3 hosts"),
        ("postgresql://u:pw@h:99999/d", "'99999'"),
    ],
)
def test_anything_else_stops_the_start_with_one_line_naming_it(url: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        check_database_url(url)
    message = str(refused.value)
    assert says in message and "\n" not in message
    assert "pw" not in message.replace("pwd", "")  # never the password
