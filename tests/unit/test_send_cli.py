"""`send` reads JSON lines from standard input, delivers them and says how it went (respx)."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta

import httpx
import pytest
import respx

from service.http.paths import WEBHOOK as WEBHOOK_PATH
from simulator.__main__ import main
from simulator.deliveries import Employee, attendance_inserted

BASE = "http://timemoto-target.test"
EMPLOYEE = Employee("u-1", "Amira", "Ben Salah", "LP-014")


def stdin_of(count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    start = datetime(2026, 11, 2, 8, 0)
    lines = [
        json.dumps(attendance_inserted(EMPLOYEE, 0, start + timedelta(hours=n), event_id=f"tm_{n}"))
        for n in range(count)
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))


@respx.mock
def test_send_delivers_every_line_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    route = respx.post(f"{BASE}{WEBHOOK_PATH}").mock(
        return_value=httpx.Response(200, json={"status": "stored"})
    )
    stdin_of(3, monkeypatch)
    assert main(["send", "--url", BASE, "--secret", "s", "--concurrency", "1"]) == 0
    assert [json.loads(call.request.content)["id"] for call in route.calls] == [
        "tm_0",
        "tm_1",
        "tm_2",
    ]
    assert "Completed 3   Failed 0" in capsys.readouterr().out


@respx.mock
def test_send_exits_1_when_a_delivery_failed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    respx.post(f"{BASE}{WEBHOOK_PATH}").mock(return_value=httpx.Response(500))
    stdin_of(2, monkeypatch)
    assert main(["send", "--url", BASE, "--secret", "s", "--retries", "1", "--backoff", "0"]) == 1
    out = capsys.readouterr().out
    assert "Completed 0   Failed 2" in out and "error rate 100.0 %" in out
