"""The alert notifier against a fake chat (respx): the JSON it posts, retries with backoff after
failures and timeouts, giving up in the end, the URL never logged (a slow receiver never delaying
a delivery: tests/integration/test_status_http.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx
import pytest
import respx

from service.alerts.notifier import Notifier

URL = "https://chat.example/hooks/T000/B000/secret-token-XYZ"


async def no_sleep(_: float) -> None:
    return None


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_posts_the_text_as_json() -> None:
    async def go() -> list[Any]:
        with respx.mock() as chat:
            route = chat.post(URL).respond(200, text="ok")
            notifier = Notifier(URL, sleep=no_sleep)
            notifier.start()
            notifier.notify("⚠️ Pointage TimeMoto — alerte : test")
            await notifier.drained()
            await notifier.stop()
            return [json.loads(call.request.content) for call in route.calls]

    assert run(go()) == [{"text": "⚠️ Pointage TimeMoto — alerte : test"}]


def test_retries_failures_and_timeouts_with_backoff_then_delivers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> int:
        with respx.mock() as chat:
            route = chat.post(URL)
            route.side_effect = [
                httpx.Response(500),
                httpx.ConnectTimeout("too slow"),
                httpx.ConnectError("refused"),
                httpx.Response(200),
            ]
            notifier = Notifier(URL, sleep=sleep)
            notifier.start()
            notifier.notify("hello")
            await notifier.drained()
            await notifier.stop()
            assert notifier.sent == 1 and notifier.failed == 0
            return route.call_count

    assert run(go()) == 4
    assert waits == [1.0, 2.0, 4.0]
    assert "HTTP 500" in caplog.text and "timeout" in caplog.text
    assert "secret-token" not in caplog.text and "chat.example" not in caplog.text


def test_gives_up_after_the_last_attempt_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> Notifier:
        with respx.mock() as chat:
            chat.post(URL).respond(503)
            notifier = Notifier(URL, sleep=no_sleep, max_attempts=3)
            notifier.start()
            notifier.notify("lost cause")
            await notifier.drained()
            await notifier.stop()
            return notifier

    notifier = run(go())
    assert (notifier.sent, notifier.failed) == (0, 1)
    assert "given up after 3 attempts (HTTP 503)" in caplog.text
    assert "secret-token" not in caplog.text
    assert "secret-token" not in repr(notifier)


def test_a_timeout_is_an_attempt_that_ends() -> None:
    async def go() -> float:
        async def hang(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(10)
            return httpx.Response(200)

        with respx.mock(assert_all_called=False) as chat:  # cut short: never "called"
            chat.post(URL).mock(side_effect=hang)
            notifier = Notifier(URL, timeout=0.2, sleep=no_sleep, max_attempts=2)
            notifier.start()
            started = time.perf_counter()
            notifier.notify("slow")
            await notifier.drained()
            await notifier.stop()
            return time.perf_counter() - started

    # Each attempt ends at the timeout, whatever the receiver does (respx ignores httpx's).
    assert run(go()) < 2.0


def test_without_a_url_nothing_is_queued() -> None:
    notifier = Notifier(None)
    notifier.notify("nobody listens")
    assert not notifier.enabled
