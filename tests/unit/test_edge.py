"""Who the client is behind a proxy, what every answer says about itself, and the throttle's one
log line: the pure parts of service/http/edge.py and the operators' gate."""

from __future__ import annotations

import logging

import pytest

from service.http.edge import client_address, networks, one_charset, secure_headers
from service.http.operators import FailureWindow, OperatorsGate
from service.settings import ConfigurationError, Settings

NGINX = networks(["127.0.0.1", "10.0.0.0/8"])


@pytest.mark.parametrize(
    ("peer", "headers", "proxies", "client"),
    [
        # No trusted proxy: the headers are never read, whoever sends them.
        ("127.0.0.1", {"x-forwarded-for": "203.0.113.7"}, (), "127.0.0.1"),
        ("198.51.100.1", {"x-forwarded-for": "203.0.113.7"}, NGINX, "198.51.100.1"),
        # From nginx: the address it adds (rightmost); what the client wrote stands left of it.
        ("127.0.0.1", {"x-forwarded-for": "203.0.113.7"}, NGINX, "203.0.113.7"),
        ("127.0.0.1", {"x-forwarded-for": "1.2.3.4, 203.0.113.7"}, NGINX, "203.0.113.7"),
        # Through two trusted hops.
        ("127.0.0.1", {"x-forwarded-for": "203.0.113.7, 10.1.2.3"}, NGINX, "203.0.113.7"),
        (
            "127.0.0.1",
            {"forwarded": 'for=192.0.2.60;proto=https, for="[2001:db8::1]:4711"'},
            NGINX,
            "2001:db8::1",
        ),
        ("127.0.0.1", {"forwarded": "for=192.0.2.60:1234"}, NGINX, "192.0.2.60"),
        # X-Forwarded-For wins over Forwarded (nginx sets the first, clears the second).
        (
            "127.0.0.1",
            {"x-forwarded-for": "203.0.113.7", "forwarded": "for=1.1.1.1"},
            NGINX,
            "203.0.113.7",
        ),
        # Garbled, or nothing: the proxy is all that is known.
        ("127.0.0.1", {"x-forwarded-for": "not-an-address"}, NGINX, "127.0.0.1"),
        ("127.0.0.1", {}, NGINX, "127.0.0.1"),
        (None, {"x-forwarded-for": "203.0.113.7"}, NGINX, "unknown"),
    ],
)
def test_the_client_behind_trusted_proxies(
    peer: str | None,
    headers: dict[str, str],
    proxies: tuple,
    client: str,  # type: ignore[type-arg]
) -> None:
    assert client_address(peer, headers, proxies) == client


@pytest.mark.parametrize(
    ("written", "one"),
    [
        (b"text/html; charset=utf-8; charset=utf-8", b"text/html; charset=utf-8"),
        (b"text/csv; charset=utf-8; Charset=UTF-8", b"text/csv; charset=utf-8"),
        (b"application/json", b"application/json"),
        (b"text/plain; charset=utf-8", b"text/plain; charset=utf-8"),
    ],
)
def test_one_charset(written: bytes, one: bytes) -> None:
    assert one_charset(written) == one


async def _started(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    message = {"type": "http.response.start", "status": 200, "headers": headers}
    await secure_headers(message, {})
    return message["headers"]  # type: ignore[return-value]


@pytest.mark.anyio
async def test_every_answer_says_nosniff_and_no_referrer_once() -> None:
    headers = await _started([(b"content-type", b"text/html; charset=utf-8; charset=utf-8")])
    assert headers == [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]
    again = await _started([(b"referrer-policy", b"no-referrer")])
    assert [name for name, _ in again].count(b"referrer-policy") == 1


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_trusted_proxies_setting() -> None:
    settings = Settings.from_env({"TRUSTED_PROXIES": " 127.0.0.1, 10.0.0.0/8,::1 "}, None)
    assert settings.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    assert Settings.from_env({}, None).trusted_proxies == ()
    with pytest.raises(ConfigurationError, match=r"TRUSTED_PROXIES .*'nginx'"):
        Settings.from_env({"TRUSTED_PROXIES": "127.0.0.1,nginx"}, None)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttling_starts_once_per_address_while_it_guesses() -> None:
    clock = Clock()
    window = FailureWindow(limit=3, window=60, clock=clock)
    assert [window.failed("a") for _ in range(3)] == [False, False, True]
    clock.now += 61  # one failure leaves the window: the guesser guesses again, still throttled
    assert window.failed("a") is False
    clock.now += 1000  # all forgotten: a new episode is said again
    assert window.retry_after("a") is None
    assert [window.failed("a") for _ in range(3)] == [False, False, True]


def test_a_guesser_locks_out_itself_not_the_admin(caplog: pytest.LogCaptureFixture) -> None:
    gate = OperatorsGate("s3cret", FailureWindow(limit=3, window=60, clock=Clock()))
    with caplog.at_level(logging.WARNING):
        outcomes = [gate.verdict("Basic Z3Vlc3M6Z3Vlc3M=", "203.0.113.7").outcome for _ in range(6)]
    assert outcomes == ["unauthorized"] * 3 + ["slow_down"] * 3
    admin = "Basic YWRtaW46czNjcmV0"  # admin:s3cret
    assert gate.verdict(admin, "198.51.100.2").outcome == "allow"
    throttled = [r for r in caplog.records if "throttled" in r.getMessage()]
    assert len(throttled) == 1 and "203.0.113.7" in throttled[0].getMessage()
