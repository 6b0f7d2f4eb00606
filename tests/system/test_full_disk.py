"""A spool on a full disk drains once the database is back (issue 11).

A 1 MiB tmpfs holds the spool; the database is black-holed behind the fault proxy; deliveries
are acknowledged (202) until the spool refuses (503), and what room is left is then filled by
another file, so the disk is 100 % full. The database comes back: every acknowledged delivery
lands in pointage, and the spool takes deliveries again. Needs root (mount); skipped elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.outbox.spool_file import RESERVE_FILE
from simulator.harness import Database, ServiceProcess, wait_until
from simulator.proxy import FaultProxy, proxied_url, upstream_of
from tests.support.hardening import env_for, post, stored
from tests.support.samples import sample_delivery

DISK = "1m"
MOST = 2000  # deliveries offered at the most before the spool refuses


@contextlib.contextmanager
def small_tmpfs(where: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> int:
    """Write a file until the filesystem refuses; returns the bytes written."""
    written = 0
    with (folder / "filler").open("wb", buffering=0) as filler, contextlib.suppress(OSError):
        while True:
            written += filler.write(b"\0" * 4096)
    return written


def a_delivery() -> dict[str, object]:
    document = sample_delivery()
    document["id"] = f"tm_full_{uuid.uuid4().hex}"
    return document


def test_a_spool_that_filled_its_disk_drains_when_the_database_is_back(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    with (
        small_tmpfs(tmp_path / "disk") as disk,
        FaultProxy(upstream_of(database_url)).start() as proxy,
    ):
        env = env_for(proxied_url(database_url, proxy.port), tmp_path, SPOOL_DIR=str(disk))
        with ServiceProcess(tmp_path / "service", env) as service:
            proxy.set_mode("blackhole")
            acknowledged: list[str] = []
            refused = 0
            for _ in range(MOST):
                document = a_delivery()
                answer = post(service.base_url, document)
                if answer.status_code == 202:
                    acknowledged.append(str(document["id"]))
                else:
                    assert answer.status_code == 503, answer.text
                    refused += 1
                    if refused == 3:
                        break
            assert refused == 3, "the spool never filled the disk"
            assert len(acknowledged) > 50
            fill(disk)  # not a byte left
            assert post(service.base_url, a_delivery()).status_code == 503

            proxy.set_mode("pass")
            assert wait_until(lambda: stored(database, acknowledged) == len(acknowledged), 90), (
                f"{stored(database, acknowledged)} of {len(acknowledged)} landed\n{service.log()}"
            )
            (disk / "filler").unlink()
            assert wait_until(lambda: (disk / RESERVE_FILE).exists(), 60), service.log()
            assert post(service.base_url, a_delivery()).status_code == 200  # database up again
    log = service.log()
    assert "neither database nor spool took it" in log  # the 503s, said once each
    assert "its reserve (256 KiB) is released so that the spool can drain" in log  # it was needed
    assert "reserve restored" in log
