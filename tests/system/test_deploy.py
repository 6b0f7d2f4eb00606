"""deploy/: systemd and node accept the files, and the command each one runs really starts the
service and stops it on SIGTERM (what the files say is read in unit/test_deploy_files.py)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.deploy import (
    ECOSYSTEM,
    FACTORY,
    PASSED_THROUGH,
    ROOT,
    UNIT,
    graceful_seconds,
    installed_here,
    read_unit,
    values,
)
from tests.support.service import free_port, service_env, wait_until


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point the unit at this checkout.
    copy = tmp_path / UNIT.name
    copy.write_text(installed_here(UNIT.read_text()))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if UNIT.name in line or "ignoring" in line.lower()
    ]
    assert result.returncode == 0, result.stderr
    assert problems == []


def pm2_apps() -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the structural read above still checks the file")
    result = subprocess.run(
        [node, "-e", "console.log(JSON.stringify(require(process.argv[1])))", str(ECOSYSTEM)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={k: v for k, v in os.environ.items() if k not in PASSED_THROUGH},
    )
    apps: list[dict[str, Any]] = json.loads(result.stdout)["apps"]
    return apps


def test_the_pm2_file_evaluated_by_node() -> None:
    (app,) = pm2_apps()
    assert app["name"] == "timemoto-pointage"
    assert app["cwd"] == str(ROOT)
    assert app["script"] == str(ROOT / ".venv" / "bin" / "python")
    assert app["interpreter"] == "none"
    assert app["args"][:4] == ["-m", "uvicorn", "--factory", FACTORY]
    assert app["kill_signal"] == "SIGTERM"
    assert app["kill_timeout"] > graceful_seconds(app["args"]) * 1000
    assert app["env"]["SPOOL_DIR"] == str(ROOT / ".data" / "spool")
    assert app["env"]["LOG_FORMAT"] == "json"
    assert "DATABASE_URL" not in app["env"]  # only passed through when pm2 is given one


def _with_port(args: list[str], port: int) -> list[str]:
    args = list(args)
    args[args.index("--port") + 1] = str(port)
    return args


def run_until_sigterm(command: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Start the command, check that the service answers, SIGTERM it; (exit code, output)."""
    port = int(command[command.index("--port") + 1])
    log = cwd / "service.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    try:

        def ready() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        assert wait_until(ready, 60), log.read_text()
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, log.read_text()


def test_the_units_command_serves_and_stops_on_sigterm(database_url: str, tmp_path: Path) -> None:
    (exec_start,) = values(read_unit(installed_here(UNIT.read_text()))["Service"], "ExecStart")
    command = _with_port(shlex.split(exec_start), free_port())
    env = service_env(database_url, tmp_path, LOG_FORMAT="json")
    code, log = run_until_sigterm(command, env, tmp_path)
    assert code == 0, log
    assert "Application shutdown complete." in log


def test_the_pm2_command_serves_and_stops_on_sigterm(database_url: str, tmp_path: Path) -> None:
    (app,) = pm2_apps()
    command = [app["script"], *_with_port(app["args"], free_port())]
    env = {**app["env"], **service_env(database_url, tmp_path)}  # not the checkout's own .data
    code, log = run_until_sigterm(command, env, tmp_path)
    assert code == 0, log
    assert all(line.startswith("{") for line in log.splitlines())  # LOG_FORMAT=json
