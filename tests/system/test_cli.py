"""`python -m service db verify|apply`, and how `serve` and uvicorn's factory refuse to start
without a secret: real processes, on a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from service.db.schema import EXPECTED_OBJECTS
from tests.support.databases import fresh_database
from tests.support.service import service_cli
from tests.support.webhook import SECRET


def cli(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": database_url, "TIMEMOTO_WEBHOOK_SECRET": SECRET}
    return service_cli(args, env, cwd)


def test_cli_verify_then_apply_then_verify(postgres_server_url: str, tmp_path: Path) -> None:
    with fresh_database(postgres_server_url, "cli") as url:
        before = cli("db", "verify", database_url=url, cwd=tmp_path)
        assert before.returncode == 1
        assert json.loads(before.stdout)["missing"] == [name for name, _ in EXPECTED_OBJECTS]
        applied = cli("db", "apply", database_url=url, cwd=tmp_path)
        assert applied.returncode == 0, applied.stderr
        after = cli("db", "verify", database_url=url, cwd=tmp_path)
        assert after.returncode == 0, after.stdout
        assert json.loads(after.stdout)["ok"] is True


def test_cli_verify_of_an_unreachable_database_fails_without_leaking_the_password(
    tmp_path: Path,
) -> None:
    url = "postgresql://erp:s3cr3t-pw@127.0.0.1:1/erp"
    result = cli("db", "verify", database_url=url, cwd=tmp_path)
    assert result.returncode == 1
    answer = json.loads(result.stdout)
    assert answer["database"]["reachable"] is False
    assert "refused" in answer["database"]["error"]
    assert "s3cr3t-pw" not in result.stdout + result.stderr


def test_serve_without_a_secret_refuses_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TIMEMOTO_WEBHOOK_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "TIMEMOTO_WEBHOOK_SECRET" in result.stderr


def test_uvicorn_factory_without_a_secret_refuses_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TIMEMOTO_WEBHOOK_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "TIMEMOTO_WEBHOOK_SECRET is not set" in result.stderr
    assert "Traceback" not in result.stderr
