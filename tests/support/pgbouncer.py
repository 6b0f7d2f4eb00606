"""PgBouncer (Debian's `pgbouncer`) in front of a test's cluster, with its default configuration
apart from what a deployment must say: the database line, `auth_type` and its users, where it
listens, `pool_mode = transaction`, and the pool's size when the test gives it.

Installed with apt-get where the tests run as root (TEST_INSTALL_PGBOUNCER=0 forbids it; see
tests/support/tools.py), else the test is skipped with the reason. PgBouncer refuses to run as
root: it runs as the cluster's user, as the server does (tests/support/clusters.py).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.support.clusters import DEADLINE, Cluster, free_port
from tests.support.tools import tool_or_skip


class PgBouncer:
    def __init__(
        self,
        cluster: Cluster,
        users: Mapping[str, str],
        *,
        database: str,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.executable = tool_or_skip("pgbouncer", "pgbouncer")
        self.cluster = cluster
        self.users = dict(users)
        self.database = database
        self.settings = dict(settings or {})
        self.port = free_port()
        self.home = cluster.home.parent / f"pgbouncer-{cluster.name}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.home / "pgbouncer.log"

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def url(self, user: str, **params: str) -> str:
        """The service's DATABASE_URL through PgBouncer (same user, password and database)."""
        return self.cluster.url(user, self.database, password=self.users[user], **params).replace(
            f":{self.cluster.port}/", f":{self.port}/"
        )

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)
        userlist = self.home / "userlist.txt"
        userlist.write_text(
            "".join(f'"{user}" "{password}"\n' for user, password in self.users.items())
        )
        config = self.home / "pgbouncer.ini"
        lines = [
            "[databases]",
            f"{self.database} = host=127.0.0.1 port={self.cluster.port} dbname={self.database}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            f"unix_socket_dir = {self.home}",
            "auth_type = scram-sha-256",
            f"auth_file = {userlist}",
            "pool_mode = transaction",
            f"logfile = {self.log_file}",
            *(f"{key} = {value}" for key, value in self.settings.items()),
        ]
        config.write_text("\n".join(lines) + "\n")
        self.cluster._own(self.home, userlist, config)
        return config

    def start(self) -> PgBouncer:
        config = self._write_config()
        user = self.cluster.user
        self.process = subprocess.Popen(
            [self.executable, str(config)],
            cwd=self.home,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
        deadline = time.monotonic() + DEADLINE
        while not self._listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pgbouncer did not start; its log:\n{self.log()[-3000:]}")
            time.sleep(0.05)  # polling a condition (the port open), with a deadline
        return self

    def _listening(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            return True
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(DEADLINE)


@contextlib.contextmanager
def pgbouncer(
    cluster: Cluster,
    users: Mapping[str, str],
    *,
    database: str,
    settings: Mapping[str, str] | None = None,
) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(cluster, users, database=database, settings=settings).start()
    try:
        yield bouncer
    finally:
        bouncer.stop()
