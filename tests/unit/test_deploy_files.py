"""deploy/: the systemd unit and the pm2 process file parse, and name the factory and the
settings (system/test_deploy.py runs their commands)."""

from __future__ import annotations

import re
import shlex

from service.settings import Settings
from tests.support.deploy import (
    ECOSYSTEM,
    ENV_EXAMPLE,
    FACTORY,
    INSTALLED_AT,
    UNIT,
    graceful_seconds,
    js_strings,
    read_unit,
    values,
)


def test_the_systemd_unit_runs_the_factory_hardened_with_its_environment() -> None:
    unit = read_unit(UNIT.read_text())
    assert set(unit) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    (exec_start,) = values(service, "ExecStart")
    args = shlex.split(exec_start)
    assert args[0] == f"{INSTALLED_AT}/.venv/bin/python"
    assert args[1:5] == ["-m", "uvicorn", "--factory", FACTORY]
    assert 0 < graceful_seconds(args) < int(values(service, "TimeoutStopSec")[0])
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


def test_the_pm2_file_names_the_factory_and_the_settings_read_without_node() -> None:
    source = ECOSYSTEM.read_text()
    strings = js_strings(source)
    assert "module.exports" in source
    assert strings[strings.index("--factory") + 1] == FACTORY
    assert strings.count("--timeout-graceful-shutdown") == 1
    graceful = int(strings[strings.index("--timeout-graceful-shutdown") + 1])
    kill_timeout = re.search(r"\bkill_timeout:\s*(\d+)", source)
    assert kill_timeout and int(kill_timeout.group(1)) > graceful * 1000
    assert {"TIMEMOTO_WEBHOOK_SECRET", "DATABASE_URL"} <= set(strings)
    assert re.search(r"\bSPOOL_DIR:", source)
    assert re.search(r"\bLOG_FORMAT:\s*\"json\"", source)
