"""deploy/: the systemd units and the pm2 process file parse, run `python -m service serve` with
the settings, and the command each one runs really starts the service and stops it on SIGTERM
(systemd) or SIGINT (pm2)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.settings import Settings
from simulator.harness import free_port, wait_until
from tests.support.webhook import SECRET as WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "timemoto-pointage.service"
ENV_EXAMPLE = DEPLOY / "timemoto-pointage.env.example"
ECOSYSTEM = DEPLOY / "ecosystem.config.js"
INSTALLED_AT = "/opt/timemoto-pointage"  # where deploy/README.md puts the checkout
SERVE = ["-m", "service", "serve"]
SOCKET = DEPLOY / "timemoto-pointage.socket"
PASSED_THROUGH = {
    "TIMEMOTO_WEBHOOK_SECRET",
    "DATABASE_URL",
    "DATA_DIR",
    "SPOOL_DIR",
    "POINTAGE_INSTANCES",
}


def read_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """systemd's INI dialect: [Section] and Key=Value lines; keys may repeat (Environment=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if header := re.fullmatch(r"\[(\w+)\]", line):
            current = sections.setdefault(header.group(1), [])
            continue
        key, equals, value = line.partition("=")
        assert current is not None and equals and re.fullmatch(r"[A-Za-z]+", key), (number, raw)
        current.append((key, value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [value for k, value in section if k == key]


def graceful_seconds() -> int:
    from service.server.supervisor import STOP_WAIT_S

    return STOP_WAIT_S


def test_the_systemd_unit_runs_the_factory_hardened_with_its_environment() -> None:
    unit = read_unit(UNIT.read_text())
    assert set(unit) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    (exec_start,) = values(service, "ExecStart")
    args = shlex.split(exec_start)
    assert args[0] == f"{INSTALLED_AT}/.venv/bin/python"
    assert args[1:] == SERVE
    assert 0 < graceful_seconds() < int(values(service, "TimeoutStopSec")[0])
    assert values(service, "ExecReload") == ["/bin/kill -HUP $MAINPID"]
    assert values(service, "KillMode") == ["mixed"]
    assert values(unit["Unit"], "Requires") == [SOCKET.name]
    assert values(service, "Restart") == ["on-failure"]
    assert values(service, "NoNewPrivileges") == ["yes"]
    assert values(service, "ProtectSystem") == ["strict"]
    (state,) = values(service, "StateDirectory")
    environment = dict(v.split("=", 1) for v in values(service, "Environment"))
    assert environment["SPOOL_DIR"].startswith(f"/var/lib/{state}/")
    assert environment["DATA_DIR"] == f"/var/lib/{state}"
    assert environment["LOG_FORMAT"] == "json"
    assert values(service, "EnvironmentFile") == ["/etc/timemoto-pointage/env"]
    assert values(unit["Install"], "WantedBy") == ["multi-user.target"]


def test_the_environment_file_template_gives_the_secret_and_the_database() -> None:
    text = ENV_EXAMPLE.read_text()
    assert re.search(r"^TIMEMOTO_WEBHOOK_SECRET=", text, re.MULTILINE)
    assert re.search(r"^DATABASE_URL=postgresql://", text, re.MULTILINE)
    settings = Settings.from_env({}, ENV_EXAMPLE)
    assert settings.webhook_secrets == ("change-me",)
    assert settings.database_url is not None


def _installed_here(unit_text: str) -> str:
    return unit_text.replace(INSTALLED_AT, str(ROOT))


def test_the_socket_unit_listens_where_the_service_would() -> None:
    socket_unit = read_unit(SOCKET.read_text())
    assert set(socket_unit) == {"Unit", "Socket", "Install"}
    assert values(socket_unit["Socket"], "ListenStream") == ["127.0.0.1:8000"]
    assert int(values(socket_unit["Socket"], "Backlog")[0]) >= 512
    assert values(socket_unit["Install"], "WantedBy") == ["sockets.target"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point the unit at this checkout.
    copy = tmp_path / UNIT.name
    copy.write_text(_installed_here(UNIT.read_text()))
    (tmp_path / SOCKET.name).write_text(SOCKET.read_text())
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy), str(tmp_path / SOCKET.name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if UNIT.name in line or SOCKET.name in line or "ignoring" in line.lower()
    ]
    assert result.returncode == 0, result.stderr
    assert problems == []


def js_strings(source: str) -> list[str]:
    """A careful read of the JS without node: comments dropped, brackets balanced, and the
    string literals in order (what the pm2 file names)."""
    strings: list[str] = []
    stack: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    i = 0
    while i < len(source):
        char = source[i]
        if source.startswith("//", i):
            i = source.index("\n", i)
        elif source.startswith("/*", i):
            i = source.index("*/", i) + 2
        elif char in "\"'`":
            end = i + 1
            while source[end] != char:
                end += 2 if source[end] == "\\" else 1
            strings.append(source[i + 1 : end])
            i = end + 1
        else:
            if char in "([{":
                stack.append(char)
            elif char in ")]}":
                assert stack and stack.pop() == pairs[char], f"unbalanced {char!r} at {i}"
            i += 1
    assert stack == [], f"unclosed {stack}"
    return strings


def test_the_pm2_file_names_the_factory_and_the_settings_read_without_node() -> None:
    source = ECOSYSTEM.read_text()
    strings = js_strings(source)
    assert "module.exports" in source
    assert strings[strings.index("-m") : strings.index("-m") + 3] == SERVE
    assert "--port" not in strings and "8000" not in strings  # HOST, PORT: from .env
    assert "kill_signal" not in source  # not a pm2 option: pm2 stops with SIGINT
    kill_timeout = re.search(r"\bkill_timeout:\s*(\d+)", source)
    assert kill_timeout and int(kill_timeout.group(1)) > graceful_seconds() * 1000
    assert {"TIMEMOTO_WEBHOOK_SECRET", "DATABASE_URL", "HOST", "PORT"} <= set(strings)
    assert re.search(r"\bSPOOL_DIR:", source)
    assert re.search(r"\bLOG_FORMAT:\s*\"json\"", source)


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
    assert app["args"] == SERVE
    assert "kill_signal" not in app
    assert app["treekill"] is False
    assert app["kill_timeout"] > graceful_seconds() * 1000
    assert app["env"]["SPOOL_DIR"] == str(ROOT / ".data" / "spool")
    assert app["env"]["LOG_FORMAT"] == "json"
    assert "DATABASE_URL" not in app["env"]  # only passed through when pm2 is given one


def run_until_signal(
    command: list[str], env: dict[str, str], cwd: Path, stop: signal.Signals = signal.SIGTERM
) -> tuple[int, str]:
    """Start the command, check that the service answers, signal it; (exit code, output)."""
    port = int(env["PORT"])
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
        process.send_signal(stop)
        code = process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, log.read_text()


def test_the_units_command_serves_and_stops_on_sigterm(database_url: str, tmp_path: Path) -> None:
    (exec_start,) = values(read_unit(_installed_here(UNIT.read_text()))["Service"], "ExecStart")
    command = shlex.split(exec_start)
    env = {
        "PORT": str(free_port()),
        "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path / "data"),
        "SPOOL_DIR": str(tmp_path / "data" / "spool"),
        "LOG_FORMAT": "json",
    }
    code, log = run_until_signal(command, env, tmp_path)
    assert code == 0, log
    assert "Application shutdown complete." in log


def test_the_pm2_command_serves_and_stops_on_sigint(database_url: str, tmp_path: Path) -> None:
    (app,) = pm2_apps()
    command = [app["script"], *app["args"]]
    env = {
        "PORT": str(free_port()),
        **app["env"],
        "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path / "data"),  # not the checkout's own .data
        "SPOOL_DIR": str(tmp_path / "data" / "spool"),
    }
    code, log = run_until_signal(command, env, tmp_path, signal.SIGINT)  # pm2's stop signal
    assert code == 0, log
    assert "Application shutdown complete." in log
    assert "Traceback" not in log and "KeyboardInterrupt" not in log
    assert all(line.startswith("{") for line in log.splitlines())  # LOG_FORMAT=json
