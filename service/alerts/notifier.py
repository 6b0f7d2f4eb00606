"""Alert notifications to a chat (`ALERT_WEBHOOK_URL`): a JSON POST `{"text": ...}`, which Slack,
Mattermost and Teams incoming webhooks all show.

`notify` only puts the text in a bounded queue and returns: a background task posts, retrying
with backoff (1 s, 2 s, 4 s, … up to MAX_ATTEMPTS), so a slow or dead receiver never delays a
delivery. The URL is a credential (whoever holds it may post to the channel): it is never logged,
and neither is an error's text, which could repeat it; only the HTTP status or the kind of error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import httpx

from service.background import stop_task

log = logging.getLogger(__name__)

TIMEOUT = 10.0  # seconds for one attempt
MAX_ATTEMPTS = 6
FIRST_BACKOFF = 1.0  # seconds, doubled after each failed attempt
MAX_BACKOFF = 60.0
QUEUE_SIZE = 100  # texts waiting; beyond this the oldest is dropped (with a warning)


class HideUrl(logging.Filter):
    """Drops httpx's own line about a request (it names the URL) to the chat."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def filter(self, record: logging.LogRecord) -> bool:
        return self.url not in record.getMessage()


class Notifier:
    def __init__(
        self,
        url: str | None,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = TIMEOUT,
        max_attempts: int = MAX_ATTEMPTS,
        first_backoff: float = FIRST_BACKOFF,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = url
        self._client = client
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._first_backoff = first_backoff
        self._sleep = sleep
        self._queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0  # texts given up on after every attempt
        if url is not None:  # httpx logs each request with its URL at INFO: not this one
            logging.getLogger("httpx").addFilter(HideUrl(url))

    @property
    def enabled(self) -> bool:
        return self.url is not None

    def __repr__(self) -> str:  # never the URL
        return f"Notifier(enabled={self.enabled}, sent={self.sent}, failed={self.failed})"

    def notify(self, text: str) -> None:
        """Queue `text` for posting; returns at once, whatever the receiver does."""
        if not self.enabled:
            return
        if self._queue.full():
            dropped = self._queue.get_nowait()
            self._queue.task_done()
            log.warning("alert notification dropped, too many waiting: %s", dropped[:80])
        self._queue.put_nowait(text)

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="alert-notifier")

    async def stop(self, grace: float = 2.0) -> None:
        """Give what is queued `grace` seconds to go out, then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), grace)
        task, self._task = self._task, None
        await stop_task(task, "the alert notifier")

    async def drained(self) -> None:
        """Until everything queued so far has been posted or given up on (for tests)."""
        await self._queue.join()

    async def _run(self) -> None:
        client = self._client or httpx.AsyncClient(timeout=self._timeout)
        try:
            while True:
                text = await self._queue.get()
                try:
                    await self._post(client, text)
                except Exception:  # the task must outlive any surprise
                    log.exception("alert notification failed unexpectedly")
                finally:
                    self._queue.task_done()
        finally:
            if self._client is None:
                await client.aclose()

    async def _post(self, client: httpx.AsyncClient, text: str) -> bool:
        assert self.url is not None
        delay = self._first_backoff
        for attempt in range(1, self._max_attempts + 1):
            why = await self._attempt(client, text)
            if why is None:
                self.sent += 1
                return True
            if attempt == self._max_attempts:
                break
            log.info(
                "alert notification not delivered (%s), attempt %d of %d: retrying in %.0f s",
                why,
                attempt,
                self._max_attempts,
                delay,
            )
            await self._sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)
        self.failed += 1
        log.warning(
            "alert notification given up after %d attempts (%s): %s",
            self._max_attempts,
            why,
            text[:200],
        )
        return False

    async def _attempt(self, client: httpx.AsyncClient, text: str) -> str | None:
        """None when the receiver took it, else why not (never the URL)."""
        assert self.url is not None
        try:
            # httpx bounds each phase; this bounds the whole attempt (a receiver that drips).
            async with asyncio.timeout(self._timeout):
                answer = await client.post(self.url, json={"text": text}, timeout=self._timeout)
        except (httpx.TimeoutException, TimeoutError):
            return "timeout"
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if answer.is_success:
            return None
        return f"HTTP {answer.status_code}"
