"""Looking changes nothing: the status page and /api/status, loaded 100 times during a silence,
send no chat message and raise no alert; the monitor's own loop does, once.

The chat is a real HTTP server on the loopback (ALERT_WEBHOOK_URL); the service runs in process
on a real PostgreSQL, its monitor's clock moved by the test past the silence threshold.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient

from service.app import create_app
from service.http import paths
from service.settings import Settings
from simulator.harness import wait_until

PASSWORD = "regarder"
DEADLINE = 30.0  # seconds; never reached when it works


class Chat:
    """An incoming-webhook receiver: each POSTed JSON's `text`, in order."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        chat = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                chat.texts.append(json.loads(self.rfile.read(length))["text"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/atelier"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def chat() -> Iterator[Chat]:
    receiver = Chat()
    yield receiver
    receiver.close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 7, tzinfo=UTC)  # a Monday, 08:00 in Tunis

    def __call__(self) -> datetime:
        return self.now


def test_looking_at_the_page_during_a_silence_changes_nothing(
    database_url: str, tmp_path: Path, chat: Chat
) -> None:
    settings = Settings(
        webhook_secrets=("s",),
        database_url=database_url,
        data_dir=tmp_path / "data",
        spool_dir=tmp_path / "spool",
        admin_password=PASSWORD,
        alert_webhook_url=chat.url,
        silence_alert_after=3600.0,
    )
    clock = Clock()
    with TestClient(create_app(settings)) as client:
        monitor = client.app.state.runtime.monitor
        monitor.interval = 3600.0  # the loop looks only when the test says, below
        client.blocking_portal.call(monitor.watch_from, clock)
        client.blocking_portal.call(monitor.check)  # the loop's look at 08:00: all is well
        clock.now += timedelta(hours=3)  # 11:00 on a working day, nothing since 08:00

        for n in range(100):
            path = paths.STATUS if n % 2 else paths.API_STATUS
            assert client.get(path, auth=("admin", PASSWORD)).status_code == 200
        assert client.get(paths.API_STATUS, auth=("admin", PASSWORD)).json()["alerts"] == []
        assert monitor.active == []

        changes = client.blocking_portal.call(monitor.check)  # now the loop looks
        assert [(c.name, c.raised) for c in changes] == [("silence", True)]
        assert wait_until(lambda: len(chat.texts) == 1, DEADLINE), chat.texts
        for _ in range(20):  # looking again while it lasts sends nothing more
            client.get(paths.STATUS, auth=("admin", PASSWORD))
        client.blocking_portal.call(monitor.check)
        answer = client.get(paths.API_STATUS, auth=("admin", PASSWORD)).json()
        assert [alert["name"] for alert in answer["alerts"]] == ["silence"]
    assert len(chat.texts) == 1, chat.texts
    assert "TimeMoto n'appelle plus" in chat.texts[0]
