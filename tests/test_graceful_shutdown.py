"""SIGTERM (how systemd and pm2 stop the service) while deliveries are in flight: they finish,
the process ends cleanly, and no acknowledged delivery is missing."""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import threading
from pathlib import Path

import httpx
import pytest

from conftest import WEBHOOK_SECRET
from service.domain.signature import sign
from simulator.harness import Database, ServiceProcess, wait_until
from tests.support.databases import fresh_database
from tests.support.locks import inserts_wait
from tests.test_webhook_http import PATH, delivery

THREADS = 8
VERIFIER = "/api/database/verifier-tables-pointage"


class Load:
    """Threads that post signed deliveries one after another until told to stop or refused."""

    def __init__(self, service: ServiceProcess, threads: int) -> None:
        self._service = service
        self._stop = threading.Event()
        self.results: list[list[tuple[str, int | None]]] = [[] for _ in range(threads)]
        self._threads = [threading.Thread(target=self._post, args=(mine,)) for mine in self.results]

    def _post(self, results: list[tuple[str, int | None]]) -> None:
        with httpx.Client(base_url=self._service.base_url, timeout=60) as client:
            while not self._stop.is_set():
                document = delivery()
                body = json.dumps(document).encode()
                headers = {"Timemoto-Signature": sign(body, WEBHOOK_SECRET)}
                status: int | None
                try:
                    status = client.post(PATH, content=body, headers=headers).status_code
                except httpx.TransportError:
                    status = None  # no answer: not acknowledged, TimeMoto would retry
                results.append((document["id"], status))
                if status is None:
                    return

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    @property
    def acknowledged(self) -> list[str]:
        return [i for mine in self.results for i, status in mine if status in (200, 202)]


def waiting_inserts(database: Database) -> int:
    return int(
        database.value(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'timemoto-pointage' AND wait_event_type = 'Lock'"
        )
    )


def test_sigterm_lets_in_flight_deliveries_finish_and_loses_none(
    postgres_server_url: str, tmp_path: Path
) -> None:
    with fresh_database(postgres_server_url, "shutdown") as url:
        env = {
            "TIMEMOTO_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "DATABASE_URL": url,
            "SPOOL_DIR": str(tmp_path / "spool"),
            "DATA_DIR": str(tmp_path / "data"),
            # The held lock must not turn into a timeout: a delivery waits for the database at
            # most DB_CONNECT_TIMEOUT (then it is spooled), a statement DB_STATEMENT_TIMEOUT.
            "DB_CONNECT_TIMEOUT": "60",
            "DB_STATEMENT_TIMEOUT": "60",
        }
        database = Database(url)
        first = ServiceProcess(tmp_path / "first", env).start()
        exit_codes: list[int | None] = []
        stopper = threading.Thread(target=lambda: exit_codes.append(first.stop(timeout=60)))
        try:
            with inserts_wait(url):
                load = Load(first, THREADS).start()
                # Deliveries arriving together share a transaction (group commit): at least one
                # insert waits on the lock, holding the deliveries of every thread behind it.
                assert wait_until(lambda: waiting_inserts(database) >= 1, 30)
                stopper.start()  # SIGTERM, with every thread's delivery in flight
                assert wait_until(lambda: "Shutting down" in first.log(), 30)
            stopper.join(90)
            load.stop()
        finally:
            first.kill()

        assert exit_codes == [0], first.log()  # not -SIGKILL: the graceful path did not hang
        log = first.log()
        assert "Application shutdown complete." in log  # the lifespan closed what it holds
        # Every delivery in flight at SIGTERM was answered, and answered during the shutdown.
        in_flight = [mine[0] for mine in load.results]
        assert [status for _, status in in_flight] == [200] * THREADS
        after_sigterm = log[log.index("Shutting down") :]
        assert all(event_id in after_sigterm for event_id, _ in in_flight)
        acknowledged = load.acknowledged
        assert len(acknowledged) >= THREADS

        # Start again on the same database and spool: whatever was spooled drains, then check.
        with ServiceProcess(tmp_path / "second", env) as second:
            assert wait_until(lambda: _spool_pending(second) == 0, 60)
            stored = database.fetch(
                "SELECT event_id FROM pointage WHERE event_id = ANY($1::text[])", acknowledged
            )
        missing = set(acknowledged) - {row["event_id"] for row in stored}
        assert not missing, f"acknowledged but lost: {sorted(missing)}"


def _spool_pending(service: ServiceProcess) -> int:
    answer = httpx.get(f"{service.base_url}{VERIFIER}", timeout=10).json()
    return int(answer["spool"]["pending"])


def test_sigterm_stops_the_embedded_database_too(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Without DATABASE_URL the service runs its own PostgreSQL: SIGTERM must not orphan it."""
    # As root the server runs as another user, which must be able to enter the folders above
    # DATA_DIR (pytest's tmp_path sits in a 0700 folder): a folder of its own under /tmp.
    data_dir = Path(tempfile.mkdtemp(prefix="pointage-shutdown-"))
    request.addfinalizer(lambda: shutil.rmtree(data_dir, ignore_errors=True))
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
        code = service.stop(timeout=60)
    assert code == 0, service.log()
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()  # pg_ctl stop ran at exit


def test_sigterm_is_left_alone_outside_uvicorn() -> None:
    """The block is for uvicorn's re-raise only: elsewhere (this test run) nothing changes."""
    from service.shutdown import exit_cleanly_after_shutdown, uvicorn_will_reraise_sigterm

    assert not uvicorn_will_reraise_sigterm()
    exit_cleanly_after_shutdown()
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
