"""deploy/prometheus-rules.yml: valid for promtool, and its unit tests pass (each alert fires
when its condition holds, and not before). promtool comes from Debian's `prometheus` package
(installed here when running as root with apt), else the test is skipped with the reason."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from service.domain.alerts import ALERT_NAMES
from tests.support.tools import tool_or_skip

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus-rules.yml"
RULE_TESTS = DEPLOY / "prometheus-rules.test.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    return tool_or_skip("promtool", "prometheus")


def test_every_alert_of_the_service_has_a_rule() -> None:
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    expressions = " ".join(rule["expr"] for rule in rules)
    for name in ALERT_NAMES:
        assert f'timemoto_alert{{name="{name}"}}' in expressions or name == "database_unavailable"
    assert "timemoto_database_up == 0" in expressions
    tested = {
        t["alertname"]
        for t in yaml.safe_load(RULE_TESTS.read_text())["tests"][0]["alert_rule_test"]
    }
    assert tested == {rule["alert"] for rule in rules}


def test_promtool_checks_and_tests_the_rules(promtool: str) -> None:
    check = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        check=False,
    )
    assert test.returncode == 0, test.stdout + test.stderr
    assert "SUCCESS" in test.stdout
