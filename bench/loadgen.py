"""The fallback load generator of bench/bench_webhook.py, for a machine without wrk.

`python -m bench.loadgen URL BODIES_FILE SECONDS CONNECTIONS [stop]`: CONNECTIONS keep-alive
HTTP/1.1 connections in one asyncio process (uvloop) POST the bodies of BODIES_FILE (lines of
"<hex signature> <json body>") in order, one request at a time each, for SECONDS (or until the
bodies run out with `stop`); prints one JSON object with what wrk would have said. It is slower
than wrk: its own ceiling is measured in the same run, like wrk's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import uvloop

_TIMEOUT = 10.0  # seconds for an answer, as wrk's --timeout


@dataclass
class _Tally:
    lines: list[tuple[bytes, bytes]]
    stop_at_end: bool
    position: int = 0
    wraps: int = 0
    issued: int = 0
    answers: dict[str, int] = field(
        default_factory=lambda: {"stored": 0, "duplicate": 0, "queued": 0, "other": 0}
    )
    codes: dict[int, int] = field(default_factory=dict)
    latencies_us: list[float] = field(default_factory=list)
    errors: int = 0
    exhausted: bool = False

    def next_line(self) -> tuple[bytes, bytes] | None:
        if self.position >= len(self.lines):
            if self.stop_at_end:
                self.exhausted = True
                return None
            self.position, self.wraps = 0, self.wraps + 1
        line = self.lines[self.position]
        self.position += 1
        self.issued += 1
        return line


def _request(host: str, path: str, signature: bytes, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Timemoto-Signature: {signature.decode()}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _connection(host: str, port: int, path: str, tally: _Tally, deadline: float) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < deadline:
            line = tally.next_line()
            if line is None:
                return
            started = time.perf_counter()
            writer.write(_request(host, path, *line))
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _TIMEOUT)
            status = int(head.split(b" ", 2)[1])
            length = 0
            for header in head.split(b"\r\n")[1:]:
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await asyncio.wait_for(reader.readexactly(length), _TIMEOUT)
            tally.latencies_us.append((time.perf_counter() - started) * 1e6)
            tally.codes[status] = tally.codes.get(status, 0) + 1
            for answer in ("stored", "duplicate", "queued"):
                if f'"status":"{answer}"'.encode() in body:
                    tally.answers[answer] += 1
                    break
            else:
                tally.answers["other"] += 1
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        tally.errors += 1
    finally:
        writer.close()


def _read(file: str) -> list[tuple[bytes, bytes]]:
    with open(file, "rb") as source:
        pairs = (line.rstrip(b"\n").split(b" ", 1) for line in source)
        return [(signature, body) for signature, body in pairs]


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(url: str, file: str, seconds: float, connections: int, stop_at_end: bool) -> None:
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
    tally = _Tally(_read(file), stop_at_end)
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(
        *(_connection(host, port, path, tally, deadline) for _ in range(connections))
    )
    elapsed = time.monotonic() - started
    requests = len(tally.latencies_us)
    non_2xx = sum(n for code, n in tally.codes.items() if not 200 <= code < 400)
    report = {
        "requests": requests,
        "seconds": elapsed,
        "rps": requests / elapsed,
        "p50_ms": _percentile(tally.latencies_us, 0.50) / 1000,
        "p99_ms": _percentile(tally.latencies_us, 0.99) / 1000,
        "non_2xx": non_2xx,
        "socket_errors": tally.errors,
        "slice": len(tally.lines),
        "issued": tally.issued,
        "wraps": tally.wraps,
        "codes": {str(code): n for code, n in tally.codes.items()},
        **tally.answers,
    }
    print(json.dumps(report))


def main(argv: list[str]) -> int:
    url, file, seconds, connections = argv[0], argv[1], float(argv[2]), int(argv[3])
    stop_at_end = len(argv) > 4 and argv[4] == "stop"
    uvloop.run(run(url, file, seconds, connections, stop_at_end))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
