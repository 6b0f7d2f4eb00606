"""The outside tools a test needs (Debian's PostgreSQL, pgbouncer, nginx, Chromium, LibreOffice,
promtool; pm2 from npm): found on PATH, else installed where the tests run as root, else the test
is skipped with the reason. `TEST_INSTALL_<PACKAGE>=0` forbids installing one
(`TEST_INSTALL_LIBREOFFICE_CALC=0`, say).

Installs take a lock of their own first: two xdist workers each wanting a tool on a fresh
machine would otherwise run apt-get at once, and the second fails on dpkg's lock (seen: nginx
skipped while LibreOffice was being installed). apt-get is also told to wait for a dpkg lock that
someone else holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["apt_install", "find_tool", "npm_install", "tool_or_skip"]

INSTALL_TIMEOUT = 1200.0  # seconds: LibreOffice or Chromium on a slow mirror
_LOCK = Path(tempfile.gettempdir()) / "pointage-tests-install.lock"
_SBIN = ("/usr/sbin", "/sbin")  # nginx lives there, and root's PATH may not say so


@contextlib.contextmanager
def _installing() -> Iterator[None]:
    """One install at a time across every test process on this machine."""
    with _LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _which(executable: str) -> str | None:
    if found := shutil.which(executable):
        return found
    return next((str(p) for d in _SBIN if (p := Path(d) / executable).is_file()), None)


def _refused(package: str, how: str) -> str | None:
    variable = "TEST_INSTALL_" + package.upper().replace("-", "_")
    if os.environ.get(variable, "1") == "0":
        return f"{variable}=0 forbids installing it"
    if os.geteuid() != 0:
        return f"installing it needs root ({how})"
    return None


def _run(command: list[str]) -> tuple[bool, str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{' '.join(command)} failed: {exc}"
    return done.returncode == 0, done.stderr.decode(errors="replace")[-300:]


def apt_install(package: str) -> str | None:
    """Why `package` could not be installed with apt-get, or None once it is."""
    how = f"apt-get install {package}"
    if reason := _refused(package, how):
        return reason
    if not shutil.which("apt-get"):
        return f"there is no apt-get ({how})"
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q"]
    install += ["--no-install-recommends", package]
    with _installing():
        ok, why = _run(install)
        if not ok:  # the package lists may be missing or stale: update, then once more
            _run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-q"])
            ok, why = _run(install)
    return None if ok else f"{how} failed: {why}"


def npm_install(package: str) -> str | None:
    """Why `package` could not be installed globally with npm, or None once it is."""
    how = f"npm install -g {package}"
    if reason := _refused(package, how):
        return reason
    if not shutil.which("npm"):
        return f"there is no npm ({how})"
    with _installing():
        ok, why = _run(["npm", "install", "-g", "--silent", package])
    return None if ok else f"{how} failed: {why}"


def find_tool(executable: str, package: str, *, npm: bool = False) -> tuple[str | None, str]:
    """(the executable, "") or (None, why there is none), installing its package if need be."""
    if found := _which(executable):
        return found, ""
    with _installing():  # another process may have installed it while this one waited
        found = _which(executable)
    if found:
        return found, ""
    reason = npm_install(package) if npm else apt_install(package)
    if reason is None and (found := _which(executable)):
        return found, ""
    return None, reason or f"{package} is installed but {executable} is not on PATH"


def tool_or_skip(executable: str, package: str, *, npm: bool = False) -> str:
    """The executable, installed if need be, or the test is skipped with why."""
    found, reason = find_tool(executable, package, npm=npm)
    if found is None:
        pytest.skip(f"{executable} ({package}) is missing and could not be installed: {reason}")
    return found
