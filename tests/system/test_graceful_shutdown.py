"""SIGTERM (how systemd and pm2 stop the service) while deliveries are in flight: they finish,
the process ends cleanly, and no acknowledged delivery is missing."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.http import paths
from tests.support.databases import Database, fresh_database
from tests.support.locks import inserts_wait
from tests.support.service import ServiceProcess, service_env, wait_until
from tests.support.webhook import a_delivery, post, verifier

THREADS = 8


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
                document = a_delivery()
                status: int | None
                try:
                    status = post(client, document).status_code
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
        # The held lock must not turn into a timeout: a delivery waits for the database at
        # most DB_CONNECT_TIMEOUT (then it is spooled), a statement DB_STATEMENT_TIMEOUT.
        env = service_env(url, tmp_path, DB_CONNECT_TIMEOUT="60", DB_STATEMENT_TIMEOUT="60")
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
                assert wait_until(lambda: deliveries_in_flight(first) == THREADS, 30)
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
                "SELECT event_id FROM pointage_horodatage WHERE event_id = ANY($1::text[])",
                acknowledged,
            )
        missing = set(acknowledged) - {row["event_id"] for row in stored}
        assert not missing, f"acknowledged but lost: {sorted(missing)}"


def deliveries_in_flight(service: ServiceProcess) -> float:
    """Deliveries the service has taken and not yet answered (its own gauge)."""
    text = service.client.get(paths.METRICS).text
    rows = [r for r in text.splitlines() if r.startswith("timemoto_deliveries_in_flight ")]
    return float(rows[0].split()[-1]) if rows else 0.0


def _spool_pending(service: ServiceProcess) -> int:
    return int(verifier(service.client).json()["spool"]["pending"])


@pytest.fixture
def embedded_root() -> Iterator[Path]:
    """A directory outside pytest's own temporary root: every pytest run on the machine resets
    that root to mode 0700, which would lock out the embedded server's own user mid-start."""
    root = Path(tempfile.mkdtemp(prefix="pointage-sigterm-"))
    root.chmod(0o711)  # as root, the server's own user must be able to enter it
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_sigterm_stops_the_embedded_database_too(embedded_root: Path) -> None:
    """Without DATABASE_URL the service runs its own PostgreSQL: SIGTERM must not orphan it."""
    data_dir = embedded_root / "data"
    env = service_env("", embedded_root)
    service = ServiceProcess(embedded_root / "service", env).start()
    try:
        assert (data_dir / "pgdata" / "postmaster.pid").exists()
    finally:
        code = service.stop(timeout=60)
    assert code == 0, service.log()
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()  # pg_ctl stop ran at exit
