"""The fault-injecting proxy in front of a real PostgreSQL: each mode seen from a client (its
URLs are in unit/test_proxy_urls.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from simulator.proxy import FaultProxy, proxied_url, upstream_of
from tests.support.databases import Database


@pytest.fixture
def proxy(database_url: str) -> Iterator[FaultProxy]:
    with FaultProxy(upstream_of(database_url)).start() as running:
        yield running


def connect(proxy: FaultProxy) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    client.settimeout(0.5)
    return client


def closed(client: socket.socket) -> bool:
    """The other end closed the connection (an orderly close or a reset)."""
    client.settimeout(5)
    try:
        return client.recv(1) == b""
    except ConnectionResetError:
        return True


# The first bytes of a PostgreSQL session: an SSLRequest, answered with one byte, "N" or "S".
SSL_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"
_PARAMETERS = b"user\x00postgres\x00database\x00postgres\x00\x00"
STARTUP = (8 + len(_PARAMETERS)).to_bytes(4, "big") + (196608).to_bytes(4, "big") + _PARAMETERS


def test_pass_forwards_a_real_session(proxy: FaultProxy, database_url: str) -> None:
    assert Database(proxied_url(database_url, proxy.port)).value("SELECT 41 + 1") == 42


def test_blackhole_accepts_and_never_answers(proxy: FaultProxy) -> None:
    proxy.set_mode("blackhole")
    with connect(proxy) as client:
        client.sendall(SSL_REQUEST)
        with pytest.raises(TimeoutError):
            client.recv(1)


def test_blackhole_silences_open_connections_and_pass_resumes_them(proxy: FaultProxy) -> None:
    with connect(proxy) as client:
        client.sendall(SSL_REQUEST)
        client.settimeout(5)
        assert client.recv(1) == b"N"  # the session is established through the proxy
        proxy.set_mode("blackhole")
        client.settimeout(0.5)
        client.sendall(STARTUP)
        with pytest.raises(TimeoutError):
            client.recv(1)
        proxy.set_mode("pass")  # the held bytes go on: the session is intact
        client.settimeout(5)
        assert client.recv(1) in {b"R", b"E"}  # authentication request, or an error


def test_refuse_closes_new_connections_at_once(proxy: FaultProxy) -> None:
    proxy.set_mode("refuse")
    with connect(proxy) as client:
        assert closed(client)


def test_cut_closes_open_connections(proxy: FaultProxy) -> None:
    with connect(proxy) as client:
        client.sendall(SSL_REQUEST)
        client.settimeout(5)
        assert client.recv(1) == b"N"
        proxy.cut()
        assert closed(client)
