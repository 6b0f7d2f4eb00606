"""`make simulate` in small: a month with a clock change, a one-second outage, all green."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.__main__ import main
from tests.support.databases import Database


def simulation_databases(server: Database) -> set[str]:
    rows = server.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'simulate_%'")
    return {row["datname"] for row in rows}


def test_simulate_ends_ok_through_an_outage(
    postgres_server_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = Database(postgres_server_url)
    before = simulation_databases(server)
    monkeypatch.setenv("DATABASE_URL", postgres_server_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no developer's .env
    try:
        status = main(["simulate", "--employees", "6", "--month", "2026-03", "--outage", "1"])
    finally:
        for name in simulation_databases(server) - before:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    out = capsys.readouterr().out
    assert status == 0, out
    assert "queued" in out  # the outage was answered 202 and drained afterwards
    export = tmp_path / "pointage-2026-03.xlsx"  # the month's payroll export, under DATA_DIR
    assert f"payroll export: {export} (6 employees, equals pointage_resume)" in out
    assert "no differences" in out and "Failed 0" in out and "\nOK in " in out
    # TimeMoto stopped calling one afternoon; its export brought exactly those clockings back.
    assert "never sent: TimeMoto stops calling then" in out
    assert "reconcile --apply:   applied: " in out
    assert "reconcile, again:    totals: 0 missing" in out
    # The service stopped with the run: no live page is advertised, the saved one is.
    assert "status page: http" not in out and "/status.html (opens offline)" in out
    assert out.rstrip().endswith("to browse it live, run with --keep-serving")
