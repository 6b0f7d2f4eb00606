"""Restarts refuse nothing (issue 13): 500 deliveries sent while the service restarts, each sent
once (no retry), and none refused, none lost.

- systemd socket activation: `systemd-socket-activate` holds the socket as systemd would (PID 1
  here is not systemd) and a shell restarts `python -m service serve` each time it ends, the way
  `Restart=` does; the service is stopped with SIGTERM twice under load.
- pm2: `pm2 start deploy/ecosystem.config.js`, then `pm2 sendSignal SIGHUP timemoto-pointage`
  (the reload deploy/README.md gives) twice under load. pm2 comes from npm (installed here when
  node exists and installing is allowed), else the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from simulator.harness import Database, free_port, wait_until
from tests.support.restarts import Load, children, environment, lost
from tests.support.tools import tool_or_skip

ROOT = Path(__file__).resolve().parents[2]
SECRET = "restart-secret"
DELIVERIES = 500
RESTARTS = 2
SPREAD_S = 12.0  # the deliveries are spread over this long; the restarts fall inside it


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _service_env(database_url: str, work: Path, port: int) -> dict[str, str]:
    return {
        "TIMEMOTO_WEBHOOK_SECRET": SECRET,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(work / "data"),
        "SPOOL_DIR": str(work / "data" / "spool"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_FORMAT": "json",
    }


def report(kind: str, refused: int, lost_count: int, sent: int) -> None:
    line = f"{kind}: {sent} deliveries during {RESTARTS} restarts: {refused} refused, "
    line += f"{lost_count} lost"
    print(line)
    reports = ROOT / "reports"
    reports.mkdir(exist_ok=True)
    with (reports / "restarts.txt").open("a") as out:
        out.write(line + "\n")


@pytest.mark.skipif(
    not shutil.which("systemd-socket-activate"),
    reason="systemd-socket-activate is missing (Debian's systemd package)",
)
def test_a_restart_under_socket_activation_refuses_nothing_and_loses_nothing(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = environment(_service_env(database_url, tmp_path, port))
    # Restart=always, as a loop: each service process gets LISTEN_PID naming itself.
    loop = (
        f'while [ ! -e "{tmp_path}/stop" ]; do '
        f"/bin/sh -c 'LISTEN_PID=$$ exec \"{sys.executable}\" -m service serve'; done"
    )
    names = [*_service_env(database_url, tmp_path, port), "PATH", "PYTHONPATH"]
    command = ["systemd-socket-activate", "-l", f"127.0.0.1:{port}"]
    command += [f"-E{name}" for name in names if name in env]
    command += ["/bin/sh", "-c", loop]
    log = (tmp_path / "service.log").open("wb")
    holder = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: _ready(url), 60), (tmp_path / "service.log").read_text()
        load = Load(url, SECRET, DELIVERIES).start(SPREAD_S)
        for restart in range(RESTARTS):
            wait_until(lambda r=restart: load.progress > DELIVERIES * (r + 1) // (RESTARTS + 1), 60)
            (service,) = children(holder.pid)
            os.kill(service, signal.SIGTERM)  # systemctl restart
            assert wait_until(lambda s=service: s not in children(holder.pid), 40)
        outcome = load.join()
    finally:
        (tmp_path / "stop").touch()
        for pid in children(holder.pid):
            os.kill(pid, signal.SIGTERM)
        try:
            holder.wait(40)
        except subprocess.TimeoutExpired:
            holder.kill()
        log.close()
    missing = lost(Database(database_url), outcome.acknowledged)
    report("systemd socket activation", outcome.refused, len(missing), outcome.sent)
    text = (tmp_path / "service.log").read_text()
    assert text.count("Application startup complete") >= RESTARTS + 1, text[-3000:]
    assert outcome.sent == DELIVERIES
    assert outcome.refused == 0, outcome
    assert outcome.failed == 0 and outcome.other == {}, outcome
    assert missing == []


@pytest.fixture(scope="module")
def pm2() -> Iterator[str]:
    yield tool_or_skip("pm2", "pm2", npm=True)


def test_a_pm2_reload_refuses_nothing_and_loses_nothing(
    pm2: str, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = environment(_service_env(database_url, tmp_path, port))
    env["PM2_HOME"] = str(tmp_path / "pm2")
    ecosystem = ROOT / "deploy" / "ecosystem.config.js"

    def run(*args: str) -> None:
        subprocess.run([pm2, *args], env=env, check=True, timeout=120, capture_output=True)

    run("start", str(ecosystem))
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: _ready(url), 90), _pm2_logs(tmp_path)
        load = Load(url, SECRET, DELIVERIES).start(SPREAD_S)
        for restart in range(RESTARTS):
            wait_until(lambda r=restart: load.progress > DELIVERIES * (r + 1) // (RESTARTS + 1), 60)
            run("sendSignal", "SIGHUP", "timemoto-pointage")
            time.sleep(1.0)
        outcome = load.join()
    finally:
        subprocess.run([pm2, "kill"], env=env, check=False, timeout=120, capture_output=True)
    missing = lost(Database(database_url), outcome.acknowledged)
    report("pm2 reload (sendSignal SIGHUP)", outcome.refused, len(missing), outcome.sent)
    logs = _pm2_logs(tmp_path)
    assert logs.count("reload: worker") >= 2 * RESTARTS, logs[-3000:]
    assert outcome.sent == DELIVERIES
    assert outcome.refused == 0, outcome
    assert outcome.failed == 0 and outcome.other == {}, outcome
    assert missing == []


def _pm2_logs(tmp_path: Path) -> str:
    logs = tmp_path / "pm2" / "logs"
    return "".join(p.read_text(errors="replace") for p in sorted(logs.glob("*.log")))
