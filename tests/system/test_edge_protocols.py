"""The edge's guards hold with either of uvicorn's parsers, run by plain `uvicorn` (the README's
command, without `--no-proxy-headers`): headers over 16 KiB get 431 (httptools has no limit of
its own, h11 would answer 400), and uvicorn's proxy-headers middleware, which believes
X-Forwarded-For from 127.0.0.1 by default, is dropped by the guarded protocol."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from service.http import paths
from simulator.harness import free_port, terminate, wait_until
from tests.support.attacks import raw_request
from tests.support.hardening import env_for, post
from tests.support.samples import sample_delivery

PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize("protocol", ["GuardedHttpToolsProtocol", "GuardedH11Protocol"])
def test_431_and_no_forwarded_for_believed_with_either_parser(
    protocol: str, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = env_for(database_url, tmp_path, ADMIN_PASSWORD=PASSWORD)
    command = [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    command += ["--http", f"service.server.connections:{protocol}"]
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=tmp_path, env={**os.environ, **env}, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return httpx.get(base + paths.HEALTH, timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        assert wait_until(up, 60), log.read_text()
        head = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
        too_big = raw_request("127.0.0.1", port, head + b"a" * 17_000 + b"\r\n\r\n")
        assert too_big.startswith(b"HTTP/1.1 431 "), too_big[:60]
        fits = raw_request("127.0.0.1", port, head + b"a" * 15_000 + b"\r\n\r\n")
        assert fits.startswith(b"HTTP/1.1 200 "), fits[:60]
        assert post(base, sample_delivery()).status_code == 200
        token = base64.b64encode(b"admin:guess").decode()
        answers = [
            httpx.get(
                base + paths.API_STATUS,
                headers={"Authorization": f"Basic {token}", "X-Forwarded-For": f"203.0.113.{n}"},
                timeout=10,
            ).status_code
            for n in range(7)
        ]
        assert answers == [401] * 5 + [429] * 2  # one client, 127.0.0.1, whatever it wrote
    finally:
        terminate(process)
    assert "Traceback" not in log.read_text()
