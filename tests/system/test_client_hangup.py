"""A sender that hangs up in the middle of its body: only a real server sees a half-sent request
(the hostile corpus itself is in integration/test_hostile_input.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from service.http import paths
from tests.support.service import ServiceProcess, service_env, wait_until


@pytest.fixture(scope="module")
def service_process(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    workdir = tmp_path_factory.mktemp("hangup")
    with ServiceProcess(workdir, service_env(database_url, workdir)) as running:
        yield running


def test_a_sender_that_hangs_up_mid_body_is_not_a_server_error(
    service_process: ServiceProcess,
) -> None:
    service = service_process

    def count(answer: str, status: str) -> float:
        text = service.client.get(paths.METRICS).text
        line = f'timemoto_deliveries_total{{answer="{answer}",http_status="{status}"}}'
        values = [float(row.split()[-1]) for row in text.splitlines() if row.startswith(line)]
        return values[0] if values else 0.0

    before = count("client_disconnected", "499")
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(
            f"POST {paths.WEBHOOK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            'Content-Length: 1000\r\nTimemoto-Signature: 00\r\n\r\n{"id": "tm'.encode()
        )
    assert wait_until(lambda: count("client_disconnected", "499") == before + 1, 10)
    assert count("error", "500") == 0
    assert "Traceback" not in service.log()
