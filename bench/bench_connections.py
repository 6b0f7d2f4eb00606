"""2,000 idle and 200 half-sent connections open: a real delivery is still answered in < 1 s.

Run twice: with the service's file descriptor limit lowered to 1024 (the limit a systemd unit
without LimitNOFILE gets: the connections cannot all be open, the longest-waiting idle ones make
room), and with the limit it inherits here. Runs on the embedded PostgreSQL in a temporary
directory unless DATABASE_URL is set.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from pathlib import Path

from service.db.embedded import temporary_embedded
from simulator.flood import ServeProcess, flood
from tests.support.samples import sample_delivery

SECRET = "bench-connections-secret"  # noqa: S105 - a throwaway secret for a local run
IDLE, HALF_SENT, TARGET_S = 2000, 200, 1.0


def database_url(stack: contextlib.ExitStack) -> str:
    if url := os.environ.get("DATABASE_URL"):
        return url
    return stack.enter_context(temporary_embedded("bench-connections-pg-"))


def one_run(url: str, workdir: Path, fd_limit: int | None) -> bool:
    env = {
        "TIMEMOTO_WEBHOOK_SECRET": SECRET,
        "DATABASE_URL": url,
        "SPOOL_DIR": str(workdir / "spool"),
        "DATA_DIR": str(workdir / "data"),
        "LOG_LEVEL": "WARNING",
    }
    delivery = sample_delivery()
    delivery["id"] = f"tm_bench_{uuid.uuid4().hex}"
    with ServeProcess(workdir, env, fd_limit) as service:
        result = flood(service.base_url, SECRET, delivery, IDLE, HALF_SENT)
        accept_lines = service.log().count("out of file descriptors")
    ok = result.status == 200 and result.seconds < TARGET_S
    limit = f"ulimit -n {fd_limit}" if fd_limit else "inherited fd limit"
    print(
        f"{limit}: opened {result.idle_opened} idle + {result.half_sent_opened} half-sent; "
        f"a delivery answered {result.status} in {result.seconds * 1000:.0f} ms "
        f"(target < {TARGET_S * 1000:.0f}); the service then held {result.server_open} open and "
        f"had closed {result.shed} idle ones to make room; 'out of file descriptors' log "
        f"lines: {accept_lines}"
    )
    return ok


def main() -> int:
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-conn-")))
        url = database_url(stack)
        results = [one_run(url, workdir / "low", 1024), one_run(url, workdir / "default", None)]
    ok = all(results)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1
