"""Every command line answers a mistake in one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.harness import free_port
from tests.support.webhook import SECRET as WEBHOOK_SECRET

PYTHON = sys.executable


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET, **env}
    return subprocess.run(
        args, env=environment, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


SERVE = [PYTHON, "-m", "service", "serve", "--port", "1"]
FACTORY = [PYTHON, "-m", "uvicorn", "--factory", "service.app:create_app", "--port", "1"]


@pytest.mark.parametrize("command", [SERVE, FACTORY], ids=["serve", "uvicorn"])
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://erp:secret-pw@db/erp", "its scheme is mysql://"),
        ("localhost:5432/erp", "it has no scheme"),
    ],
)
def test_a_malformed_database_url_stops_the_start(
    command: list[str], url: str, says: str, tmp_path: Path
) -> None:
    line = one_line(run(command, tmp_path, DATABASE_URL=url, SPOOL_DIR=str(tmp_path / "s")))
    assert "DATABASE_URL is not a PostgreSQL URL" in line and says in line
    assert "secret-pw" not in line


@pytest.mark.parametrize("command", [SERVE, FACTORY], ids=["serve", "uvicorn"])
def test_a_spool_dir_that_cannot_be_made_stops_the_start(
    command: list[str], tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("a file, not a folder")
    spool_dir = tmp_path / "file" / "spool"
    env = {"DATABASE_URL": "postgresql://erp@127.0.0.1:1/erp", "SPOOL_DIR": str(spool_dir)}
    line = one_line(run(command, tmp_path, **env))
    assert f"SPOOL_DIR={spool_dir}" in line


@pytest.mark.parametrize(
    "args",
    [
        ["-m", "service", "spool", "nope"],
        ["-m", "service", "serve", "--port", "eighty"],
        ["-m", "simulator", "replay", "missing.jsonl", "--secret", "x"],
        ["-m", "simulator", "expect", "missing.jsonl"],
        ["-m", "simulator", "generate", "--from", "2026-13-01"],
        ["-m", "simulator", "generate", "--employees", "many"],
        ["-m", "simulator", "nope"],
    ],
)
def test_bad_arguments_and_missing_files_are_one_line(args: list[str], tmp_path: Path) -> None:
    one_line(run([PYTHON, *args], tmp_path, SPOOL_DIR=str(tmp_path / "spool")))


def test_the_spool_cli_on_an_unwritable_spool_dir_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    env = {"DATABASE_URL": "postgresql://erp@127.0.0.1:1/erp", "SPOOL_DIR": str(tmp_path / "file")}
    line = one_line(run([PYTHON, "-m", "service", "spool", "status"], tmp_path, **env))
    assert "spool" in line


def test_verify_of_an_unreachable_database_knows_nothing_missing(tmp_path: Path) -> None:
    url = f"postgresql://erp:pw@127.0.0.1:{free_port()}/erp"
    result = run([PYTHON, "-m", "service", "db", "verify"], tmp_path, DATABASE_URL=url)
    assert result.returncode == 1
    answer = json.loads(result.stdout)
    assert answer["missing"] == []
    assert {o["exists"] for o in answer["objects"]} == {None}
    assert "refused" in answer["database"]["error"]
    assert answer["spool"]["stranded"] == 0


def test_spool_status_during_an_outage_names_it(tmp_path: Path) -> None:
    url = f"postgresql://erp:pw@127.0.0.1:{free_port()}/erp"
    env = {"DATABASE_URL": url, "SPOOL_DIR": str(tmp_path / "spool"), "DB_CONNECT_TIMEOUT": "1"}
    result = run([PYTHON, "-m", "service", "spool", "status"], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "database now: connection refused" in result.stdout
    assert "last error: connection refused" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["serve", "--port", "0"], {}, "a port is a number from 1 to 65535"),
        (["serve", "--port", "99999"], {}, "a port is a number from 1 to 65535"),
        (["serve", "--port", "-1"], {}, "a port is a number from 1 to 65535"),
        (["serve", "--host", " "], {}, "the host is empty"),
        (["serve"], {"PORT": "99999"}, "PORT must be from 1 to 65535"),
        (["serve"], {"DB_CONNECT_TIMEOUT": "nan"}, "DB_CONNECT_TIMEOUT must be a positive"),
        (["serve"], {"DB_STATEMENT_TIMEOUT": "inf"}, "DB_STATEMENT_TIMEOUT must be a positive"),
    ],
)
def test_the_service_s_arguments_are_checked_before_anything_starts(
    args: list[str], env: dict[str, str], says: str, tmp_path: Path
) -> None:
    result = run([PYTHON, "-m", "service", *args], tmp_path, SPOOL_DIR=str(tmp_path / "s"), **env)
    assert result.returncode == 2
    assert says in one_line(result)
