"""Idle and half-sent connections cannot starve the webhook (issue 11).

`python -m service serve` with its file descriptor limit lowered to 1024 (what a systemd unit
without LimitNOFILE gets): 2,000 connections that send nothing and 200 that send half of their
headers are opened, then a real delivery is answered in under a second, and asyncio's "accept()
out of system resource" is logged at most once. Then the header-read timeout: a connection that
sends nothing is closed after HEADER_TIMEOUT.
"""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

from simulator.flood import ServeProcess, flood
from tests.support.hardening import env_for
from tests.support.samples import sample_delivery
from tests.support.webhook import SECRET as WEBHOOK_SECRET

FD_LIMIT = 1024


def test_a_delivery_is_answered_in_under_a_second_beside_2200_idle_connections(
    database_url: str, tmp_path: Path
) -> None:
    env = env_for(database_url, tmp_path, HEADER_TIMEOUT="2")
    delivery = sample_delivery()
    delivery["id"] = f"tm_flood_{uuid.uuid4().hex}"
    with ServeProcess(tmp_path, env, fd_limit=FD_LIMIT) as service:
        result = flood(service.base_url, WEBHOOK_SECRET, delivery, idle=2000, half_sent=200)
        assert (result.idle_opened, result.half_sent_opened) == (2000, 200)
        assert result.status == 200
        assert result.seconds < 1.0, result
        assert result.server_open < FD_LIMIT  # the longest-waiting idle ones made room
        assert service.log().count("out of file descriptors") <= 1

        with socket.create_connection(("127.0.0.1", service.port), timeout=10) as silent:
            started = time.monotonic()
            assert silent.recv(1) == b""  # closed by the service, not by us
            assert 1.5 < time.monotonic() - started < 6
    assert "Traceback" not in service.log()
