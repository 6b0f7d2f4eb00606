"""What the PostgreSQL-setup tests share: README's DATABASE_URL examples, the role a managed
offer gives, and how stored clockings are counted (in one place, so that a change of the
schema's tables is a change here only)."""

from __future__ import annotations

import re
from pathlib import Path

from service.db.schema import schema_sql
from simulator.harness import Database
from tests.support.clusters import Cluster

README = Path(__file__).resolve().parents[2] / "README.md"

# The role and database of README's examples: a role that is not a superuser and owns only its
# database, as a managed offer (OVH, Scaleway, RDS...) gives one.
ROLE, PASSWORD, DATABASE = "pointage", "s3cret", "erp"
_HOST_PORT = re.compile(r"(?<=[@,])[a-z0-9.-]+\.example\.net:\d+")


def managed_database(cluster: Cluster) -> None:
    """The ERP's database on `cluster`, owned by a role that is not a superuser."""
    cluster.sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}' NOSUPERUSER NOCREATEDB")
    cluster.sql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")


def apply_schema_as_owner(cluster: Cluster) -> None:
    """sql/schema_pointage.sql run as the database's owner (its objects then belong to it)."""
    cluster.sql(f"SET ROLE {ROLE};\n{schema_sql()}", database=DATABASE)


def readme_url(example: str, *servers: tuple[str, int], **paths: str) -> str:
    """A DATABASE_URL example of README's "PostgreSQL in production", exactly as written there,
    with its `*.example.net:port` hosts replaced in order by `servers`, and its file paths by
    `paths` (e.g. the CA's: {"/etc/timemoto-pointage/ca.pem": "/tmp/…/ca.pem"})."""
    assert example in README.read_text(), f"README no longer shows {example}"
    hosts = iter(servers)
    url = _HOST_PORT.sub(lambda _: "{}:{}".format(*next(hosts)), example)
    for written, real in paths.items():
        url = url.replace(written, real)
    return url


def stored_event_ids(url: str) -> list[str]:
    """The delivery ids of the clockings stored, one per row (a duplicate would show twice)."""
    return [row[0] for row in Database(url).fetch("SELECT event_id FROM pointage_horodatage")]
