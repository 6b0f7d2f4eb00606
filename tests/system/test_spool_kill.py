"""The spool survives a process killed with kill -9 right after a delivery is put in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from service.outbox.spool import Spool


def spool(directory: Path, key: str = "db-a") -> Spool:
    return Spool(directory, key, f"erp@host/{key}")


def test_a_delivery_survives_a_killed_process(tmp_path: Path) -> None:
    """Written by a process that is then killed without closing anything."""
    code = (
        "import os, sys; from datetime import datetime, UTC; from pathlib import Path;"
        "from service.outbox.spool import Spool;"
        "s = Spool(Path(sys.argv[1]), 'db-a', 'x'); s.put('tm_k', b'{}', datetime.now(UTC));"
        "os.kill(os.getpid(), 9)"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False)
    assert result.returncode == -9
    assert [item.event_id for item in spool(tmp_path).oldest(10)] == ["tm_k"]
