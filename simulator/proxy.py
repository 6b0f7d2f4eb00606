"""A fault-injecting TCP proxy in front of PostgreSQL, to make the database fail on demand.

Modes: "pass" forwards bytes both ways; "blackhole" accepts TCP and never answers (open
connections go silent too: their bytes are held back, not lost); "refuse" closes every new
connection at once, as a host with no server listening does. `cut()` closes every open connection,
as a restarted server or a dropped network path does. The upstream is "host:port" or the path of a
Unix socket (the embedded PostgreSQL listens on a socket only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Literal, cast, get_args
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from simulator.args import OneLineParser, host_and_port, port
from simulator.harness import free_port

ProxyMode = Literal["pass", "blackhole", "refuse"]
_CHUNK = 64 * 1024


def upstream_of(database_url: str) -> str:
    """Where a PostgreSQL URL points: "host:port", or the Unix socket file path
    (the embedded server listens on a socket only: <dir>/.s.PGSQL.<port>)."""
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query))
    port = parts.port or int(query.get("port") or 5432)
    host = parts.hostname or query.get("host") or "/tmp"  # noqa: S108 - libpq's own default
    if host.startswith("/"):
        return f"{host.rstrip('/')}/.s.PGSQL.{port}"
    return f"{host}:{port}"


def proxied_url(database_url: str, port: int) -> str:
    """The same user, password and database, reached through 127.0.0.1:port."""
    parts = urlsplit(database_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in {"host", "port"}]
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))


class FaultProxy:
    def __init__(self, upstream: str, port: int | None = None) -> None:
        self.upstream = upstream
        self.port = port or free_port()
        self.mode: ProxyMode = "pass"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._passing = asyncio.Event()  # set while mode == "pass"; only touched on the loop

    # -- control, from any thread ---------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def set_mode(self, mode: ProxyMode) -> None:
        if mode not in get_args(ProxyMode):
            raise ValueError(f"unknown proxy mode {mode!r}")
        self._call(self._set_mode(mode))

    def cut(self) -> None:
        self._call(self._cut())

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self if self._thread.is_alive() else self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    # -- on the proxy's own loop ----------------------------------------------------------------

    async def _listen(self) -> None:
        self._passing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _set_mode(self, mode: ProxyMode) -> None:
        self.mode = mode
        if mode == "pass":
            self._passing.set()
        else:
            self._passing.clear()
        if mode == "refuse":
            await self._cut()  # a host that refuses connections has none open either

    async def _cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._cut()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "refuse":
            writer.transport.abort()
            return
        self._writers.add(writer)
        try:
            if self.mode == "blackhole":
                await _drain_forever(reader)  # accepted, never answered
                return
            try:
                up_reader, up_writer = await self._open_upstream()
            except OSError:
                return
            self._writers.add(up_writer)
            try:
                await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
            finally:
                self._writers.discard(up_writer)
                up_writer.transport.abort()
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.upstream.startswith("/"):
            return await asyncio.open_unix_connection(self.upstream)
        host, _, port = self.upstream.rpartition(":")
        return await asyncio.open_connection(host, int(port))

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            while data := await source.read(_CHUNK):
                await self._passing.wait()  # a black hole holds the bytes back
                sink.write(data)
                await sink.drain()
        sink.transport.abort()


async def _drain_forever(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(OSError):
        while await reader.read(_CHUNK):
            pass


def _upstream(text: str) -> str:
    """A Unix socket path, a PostgreSQL URL (its port checked), or host:port."""
    if text.startswith("/"):
        return text
    if "://" in text:
        try:
            upstream = upstream_of(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: its port is not between 1 and 65535"
            ) from None
        if not upstream.startswith("/"):
            host_and_port(upstream)
        return text
    return host_and_port(text)


def main(argv: list[str] | None = None) -> int:
    """CLI body for `python -m simulator proxy`: modes are switched by typing them on stdin."""
    parser = OneLineParser(
        prog="python -m simulator proxy",
        description="A fault-injecting TCP proxy in front of PostgreSQL. Type pass, blackhole, "
        "refuse or cut (then Enter) to change what it does; Ctrl-D or Ctrl-C stops it.",
    )
    parser.add_argument(
        "upstream", type=_upstream, help="host:port, a Unix socket path, or a PostgreSQL URL"
    )
    parser.add_argument("--port", type=port, help="where to listen on 127.0.0.1 (default: free)")
    parser.add_argument("--mode", choices=get_args(ProxyMode), default="pass")
    args = parser.parse_args(argv)
    url = args.upstream if "://" in args.upstream else None
    upstream = upstream_of(url) if url else args.upstream
    with FaultProxy(upstream, args.port).start() as proxy:
        proxy.set_mode(args.mode)
        print(f"proxy on 127.0.0.1:{proxy.port} -> {upstream} ({proxy.mode})", flush=True)
        if url:
            print(f"DATABASE_URL={proxied_url(url, proxy.port)}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            for line in sys.stdin:
                command = line.strip()
                if command == "cut":
                    proxy.cut()
                elif command in get_args(ProxyMode):
                    proxy.set_mode(cast(ProxyMode, command))
                elif command:
                    print(f"unknown command {command!r}: pass, blackhole, refuse or cut")
                    continue
                print(f"mode: {proxy.mode}", flush=True)
    return 0
