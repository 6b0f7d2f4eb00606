"""`sql/schema_pointage.sql` as a DBA runs it: psql with ON_ERROR_STOP, twice, on two kinds of
database (empty, and an ERP whose `equipe` already has rows and columns of its own)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import asyncpg
import pytest

from service.db.schema import EXPECTED_OBJECTS, SCHEMA_FILE
from tests.support.databases import Database, fresh_database, psql_executable


def run_psql(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [psql_executable(), "-v", "ON_ERROR_STOP=1", "-q", "-d", url, "-f", str(SCHEMA_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def structure(db: Database) -> list[tuple[str, ...]]:
    """Every column, constraint, trigger and function body of ours: what 'changes nothing' means."""
    rows = db.fetch(
        """
        SELECT 'column', table_name::text, column_name::text, data_type::text,
               coalesce(column_default, '') FROM information_schema.columns
         WHERE table_schema = 'public'
        UNION ALL
        SELECT 'constraint', conrelid::regclass::text, conname::text, pg_get_constraintdef(oid), ''
          FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'trigger', tgrelid::regclass::text, tgname::text, pg_get_triggerdef(oid), ''
          FROM pg_trigger WHERE NOT tgisinternal
        UNION ALL
        SELECT 'function', proname::text, md5(prosrc), '', ''
          FROM pg_proc WHERE pronamespace = 'public'::regnamespace
        ORDER BY 1, 2, 3
        """
    )
    return [tuple(row) for row in rows]


@pytest.fixture
def empty_database(postgres_server_url: str) -> Iterator[Database]:
    with fresh_database(postgres_server_url, "schema_empty") as url:
        yield Database(url)


@pytest.fixture
def erp_database(postgres_server_url: str) -> Iterator[Database]:
    with fresh_database(postgres_server_url, "schema_erp") as url:
        db = Database(url)
        db.execute(
            """
            CREATE TABLE equipe (
                id serial PRIMARY KEY, nom text NOT NULL, prenom text, poste text,
                salaire_base numeric(10, 2), date_embauche date DEFAULT current_date
            );
            INSERT INTO equipe (nom, prenom, poste, salaire_base)
            VALUES ('Ben Salah', 'Amira', 'couturière', 1450.00),
                   ('Trabelsi', 'Karim', 'coupeur', 1380.50);
            """
        )
        yield db


def test_twice_on_an_empty_database(empty_database: Database) -> None:
    first = run_psql(empty_database.url)
    assert first.returncode == 0, first.stderr
    after_first = structure(empty_database)
    second = run_psql(empty_database.url)
    assert second.returncode == 0, second.stderr
    assert structure(empty_database) == after_first
    assert "equipe" in {row[1] for row in after_first if row[0] == "column"}


def test_twice_on_an_erp_database_keeps_its_equipe(erp_database: Database) -> None:
    for _ in range(2):
        result = run_psql(erp_database.url)
        assert result.returncode == 0, result.stderr
    rows = erp_database.fetch(
        "SELECT nom, prenom, poste, salaire_base::text, timemoto_user_id, temps_travaille_mois"
        " FROM equipe ORDER BY id"
    )
    assert [tuple(row) for row in rows] == [
        ("Ben Salah", "Amira", "couturière", "1450.00", None, 0),
        ("Trabelsi", "Karim", "coupeur", "1380.50", None, 0),
    ]


def test_every_verified_object_is_created(empty_database: Database) -> None:
    assert run_psql(empty_database.url).returncode == 0
    names = {row[0] for row in empty_database.fetch("SELECT relname FROM pg_class")}
    tables = [name for name, kind in EXPECTED_OBJECTS if kind in ("table", "view")]
    assert set(tables) <= names


def test_timemoto_user_id_is_unique(empty_database: Database) -> None:
    assert run_psql(empty_database.url).returncode == 0
    empty_database.execute("INSERT INTO equipe (nom, timemoto_user_id) VALUES ('A', 'u-1')")
    with pytest.raises(asyncpg.UniqueViolationError):
        empty_database.execute("INSERT INTO equipe (nom, timemoto_user_id) VALUES ('B', 'u-1')")
