"""The features report QA reads (features/report.py): a real pytest-bdd run of a small feature
(one scenario passing, one failing half-way, a Background) gives a cucumber.json; its HTML is
opened in headless Chromium, which must show every feature, scenario and step text, each step's
outcome, the failing step's message and the summary; the page loads nothing from elsewhere. A
screenshot goes to reports/features-report.png."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from features.report import main, read_features, write_report
from tests.support.chromium import dump_dom, screenshot
from tests.support.tools import tool_or_skip

ROOT = Path(__file__).resolve().parents[2]

FEATURE = """\
Feature: The clerk's month
  A payroll clerk downloads the month's export
  and reads each employee's hours.

  Background:
    Given a workshop with 3 employees

  Scenario: The export lists everyone
    When the clerk downloads "2026-11.xlsx"
    Then it lists 3 employees

  Scenario: A night shift is counted whole
    When Salma works from 22:00 to 06:00
    Then her day counts 480 minutes
    And the export marks her exit "+1 j"
"""

STEPS = """\
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("month.feature")


@given(parsers.parse("a workshop with {count:d} employees"), target_fixture="staff")
def staff(count):
    return count


@when(parsers.parse('the clerk downloads "{name}"'))
def download(name):
    pass


@then(parsers.parse("it lists {count:d} employees"))
def lists(staff, count):
    assert staff == count


@when("Salma works from 22:00 to 06:00")
def night():
    pass


@then(parsers.parse("her day counts {minutes:d} minutes"))
def counts(minutes):
    assert minutes == 450, "the day counted 450 minutes, not 480"


@then('the export marks her exit "+1 j"')
def marks():
    pass
"""


def html_text(dom: str) -> str:
    """The text a reader sees, on one line (tags out, entities decoded, spaces collapsed)."""
    text = html.unescape(re.sub(r"<(style|title)>.*?</\1>|<[^>]+>", " ", dom, flags=re.DOTALL))
    return re.sub(r"\s+([,:])", r"\1", re.sub(r"\s+", " ", text))


@pytest.fixture(scope="module")
def cucumber_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What pytest-bdd writes for the feature above, from a run of its own (outside this suite's
    configuration)."""
    work = tmp_path_factory.mktemp("bdd")
    (work / "month.feature").write_text(FEATURE)
    (work / "test_month.py").write_text(STEPS)
    (work / "pytest.ini").write_text("[pytest]\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--cucumberjson=cucumber.json", "-q", "test_month.py"],
        cwd=work, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:]  # one scenario fails, as meant
    return work / "cucumber.json"


def test_the_failing_step_and_the_steps_after_it(cucumber_json: Path) -> None:
    (feature,) = read_features(json.loads(cucumber_json.read_text()))
    passing, failing = feature.scenarios
    assert (passing.status, failing.status) == ("passed", "failed")
    assert [(s.keyword, s.status, s.background) for s in failing.steps] == [
        ("Given", "passed", True),
        ("When", "passed", False),
        ("Then", "failed", False),
        ("And", "skipped", False),  # never ran: pytest-bdd says "failed"
    ]
    assert "the day counted 450 minutes, not 480" in failing.steps[2].message
    assert failing.steps[3].message == ""


def test_the_report_in_chromium(cucumber_json: Path, tmp_path: Path) -> None:
    chromium = tool_or_skip("chromium", "chromium")
    page = tmp_path / "features.html"
    summary = write_report(cucumber_json, page)
    assert (summary.scenarios["passed"], summary.scenarios["failed"]) == (1, 1)
    source = page.read_text(encoding="utf-8")
    assert source.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in source and '<meta charset="utf-8">' in source
    # Self-contained: no stylesheet, script, image or font from anywhere else.
    assert not re.search(r"<(script|link|img|iframe)\b|@import|url\(", source, re.IGNORECASE)
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", source, re.IGNORECASE)

    dom = dump_dom(chromium, page.as_uri(), tmp_path / "profile")
    text = html_text(dom)
    assert "Feature: The clerk's month failed" in text
    assert "A payroll clerk downloads the month's export and reads each employee's hours." in text
    for scenario in ("The export lists everyone", "A night shift is counted whole"):
        assert f"Scenario: {scenario}" in text
    for line in FEATURE.splitlines():
        step = line.strip()
        if step.split(" ", 1)[0] in {"Given", "When", "Then", "And"}:
            assert step in text, step
    assert text.count("✔ passed") == 5 and text.count("✘ failed") == 1
    assert "– skipped" in text and "not run" in text
    assert "the day counted 450 minutes, not 480" in text
    assert "Scenarios 2: 1 passed, 1 failed, 0 skipped" in text
    assert "Steps 7: 5 passed, 1 failed, 1 skipped" in text
    screenshot(chromium, page.as_uri(), tmp_path / "shot", ROOT / "reports" / "features-report.png")


def test_the_command_answers_a_mistake_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "missing.json"), str(tmp_path / "out.html")]) == 1
    (tmp_path / "bad.json").write_text('{"not": "a list"}')
    assert main([str(tmp_path / "bad.json"), str(tmp_path / "out.html")]) == 1
    assert main([]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and "missing.json" in lines[0] and "not a Cucumber JSON" in lines[1]
    assert not (tmp_path / "out.html").exists()
