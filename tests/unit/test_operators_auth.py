"""The operators' gate without a server: the credential check and the failure window."""

from __future__ import annotations

import base64

import pytest

from service.http.operators import (
    FAILURE_LIMIT,
    FailureWindow,
    OperatorsGate,
    credentials_match,
)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (basic("admin", "s3cret"), True),
        (basic("admin", "s3cret").replace("Basic", "basic"), True),
        (basic("admin", "wrong"), False),
        (basic("Admin", "s3cret"), False),
        (basic("root", "s3cret"), False),
        (basic("admin", "s3cret "), False),
        (basic("admin", ""), False),
        ("Basic " + base64.b64encode(b"admins3cret").decode(), False),  # no colon
        ("Basic not-base64!", False),
        ("Bearer s3cret", False),
        ("", False),
        (None, False),
    ],
)
def test_credentials(header: str | None, ok: bool) -> None:
    assert credentials_match(header, "s3cret") is ok


def test_a_password_with_a_colon_and_accents() -> None:
    password = "mot:de:passe-été"
    assert credentials_match(basic("admin", password), password)
    assert not credentials_match(basic("admin", "mot"), password)


def test_failures_beyond_the_limit_slow_down_until_the_window_passes() -> None:
    clock = Clock()
    window = FailureWindow(limit=5, window=60, clock=clock)
    for _ in range(5):
        assert window.retry_after("10.0.0.1") is None
        window.failed("10.0.0.1")
        clock.now += 1
    # 5 failures from 1000 to 1004, now 1005: blocked until the first leaves the window at 1060.
    assert window.retry_after("10.0.0.1") == 55
    assert window.retry_after("10.0.0.2") is None  # another address is not concerned
    clock.now = 1059.5
    assert window.retry_after("10.0.0.1") == 1
    clock.now = 1060.0
    assert window.retry_after("10.0.0.1") is None  # one more try is allowed
    window.failed("10.0.0.1")
    assert window.retry_after("10.0.0.1") == 1  # and the next failure blocks again
    clock.now = 2000
    assert window.retry_after("10.0.0.1") is None


def test_success_forgets_the_failures() -> None:
    window = FailureWindow(limit=5, window=60, clock=Clock())
    for _ in range(4):
        window.failed("a")
    window.succeeded("a")
    for _ in range(4):
        window.failed("a")
    assert window.retry_after("a") is None


def test_the_window_forgets_the_least_recent_addresses() -> None:
    window = FailureWindow(limit=1, window=60, clock=Clock(), max_addresses=3)
    for address in "abcd":
        window.failed(address)
    assert window.retry_after("a") is None  # forgotten
    assert all(window.retry_after(address) for address in "bcd")


def test_gate_without_a_password_is_absent() -> None:
    gate = OperatorsGate(None)
    assert not gate.enabled
    assert gate.verdict(basic("admin", ""), "a").outcome == "absent"
    assert OperatorsGate("").verdict(None, "a").outcome == "absent"


def test_gate_verdicts() -> None:
    clock = Clock()
    gate = OperatorsGate("s3cret", FailureWindow(clock=clock))
    assert gate.verdict(basic("admin", "s3cret"), "a").outcome == "allow"
    for _ in range(FAILURE_LIMIT):
        assert gate.verdict(basic("admin", "guess"), "a").outcome == "unauthorized"
    blocked = gate.verdict(basic("admin", "s3cret"), "a")  # even the right one: no oracle
    assert blocked.outcome == "slow_down" and blocked.retry_after == 60
    assert gate.verdict(basic("admin", "s3cret"), "b").outcome == "allow"
    clock.now += 60
    assert gate.verdict(basic("admin", "s3cret"), "a").outcome == "allow"
