"""Every `python -m simulator` command checks its arguments before it starts anything: a count
below 1, a range that ends before it begins, a port outside 1–65535, an output folder that does
not exist outside the working directory are each one line on stderr and a non-zero exit, at once
(each run has a deadline: a command that would hang fails the test instead of the suite)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DEADLINE = 30.0  # seconds; a bad argument is answered in well under one, the machine is shared

BAD = {
    "simulate-employees-0": ["simulate", "--employees", "0"],
    "simulate-concurrency-0": ["simulate", "--concurrency", "0"],
    "simulate-month-13": ["simulate", "--month", "2026-13"],
    "simulate-outage-negative": ["simulate", "--outage", "-1"],
    "simulate-drain-deadline-0": ["simulate", "--drain-deadline", "0"],
    "generate-employees-negative": ["generate", "--employees", "-3"],
    "generate-employees-0": ["generate", "--employees", "0"],
    "generate-range-reversed": ["generate", "--from", "2026-12-10", "--to", "2026-12-01"],
    "generate-not-a-date": ["generate", "--to", "2026-02-30"],
    "replay-concurrency-0": ["replay", "deliveries.jsonl", "--concurrency", "0"],
    "send-concurrency-negative": ["send", "--concurrency", "-2"],
    "send-retries-negative": ["send", "--retries", "-1"],
    "send-rate-0": ["send", "--rate", "0"],
    "send-timeout-nan": ["send", "--timeout", "nan"],
    "send-url-port": ["send", "--url", "http://127.0.0.1:99999"],
    "send-url-scheme": ["send", "--url", "ftp://127.0.0.1"],
    "proxy-port-99999": ["proxy", "nohost:99999"],
    "proxy-no-port": ["proxy", "nohost"],
    "proxy-url-port": ["proxy", "postgresql://erp@127.0.0.1:70000/erp"],
    "proxy-listen-port-0": ["proxy", "127.0.0.1:5432", "--port", "0"],
}


def simulator(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIMEMOTO_WEBHOOK_SECRET": "arguments-secret"}
    env.pop("DATABASE_URL", None)  # nothing may reach a database: the arguments stop it first
    return subprocess.run(
        [sys.executable, "-m", "simulator", *args],
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=DEADLINE, check=False,
    )  # fmt: skip


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "deliveries.jsonl").write_text("")
    return work


@pytest.mark.parametrize("args", list(BAD.values()), ids=list(BAD))
def test_a_bad_argument_is_one_line_at_once(args: list[str], workdir: Path) -> None:
    line = one_line(simulator(args, workdir))
    assert line.startswith("python -m simulator")
    assert not (workdir / ".data").exists()  # no database was started for it


def test_the_reversed_range_is_named(workdir: Path) -> None:
    line = one_line(simulator(BAD["generate-range-reversed"], workdir))
    assert "--to 2026-12-01 is before --from 2026-12-10" in line


def test_no_folder_is_made_outside_the_working_directory(tmp_path: Path, workdir: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "deeper"
    args = ["generate", "--employees", "2", "--out", str(elsewhere / "x.jsonl")]
    line = one_line(simulator(args, workdir))
    assert str(elsewhere) in line and "does not exist" in line
    assert not (tmp_path / "elsewhere").exists()
    log = ["replay", "deliveries.jsonl", "--log", str(elsewhere / "log.jsonl")]
    assert "does not exist" in one_line(simulator(log, workdir))
    assert not (tmp_path / "elsewhere").exists()


def test_a_folder_inside_the_working_directory_is_made(workdir: Path) -> None:
    args = ["generate", "--employees", "2", "--from", "2026-11-02", "--to", "2026-11-03"]
    result = simulator([*args, "--out", "runs/today/x.jsonl"], workdir)
    assert result.returncode == 0, result.stderr
    assert (workdir / "runs" / "today" / "x.jsonl").stat().st_size > 0
    assert (workdir / "runs" / "today" / "x.company.json").exists()


def test_good_ranges_pass(workdir: Path) -> None:
    one_day = ["generate", "--employees", "1", "--from", "2026-11-02", "--to", "2026-11-02"]
    result = simulator(one_day, workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") >= 1  # a workday's punches
