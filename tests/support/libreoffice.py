"""LibreOffice headless for the tests that open the export as a person's spreadsheet would.

Found on PATH, else installed with Debian's `libreoffice-calc` where the tests run as root with
apt-get (set TEST_INSTALL_LIBREOFFICE=0 to forbid it); otherwise the tests that need it are
skipped with the reason, never failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PACKAGE = "libreoffice-calc"
# CSV export options: `;`, `"`, UTF-8, from line 1, no column formats, system language, quote
# only where needed, detect numbers, cells as shown, no formulas, no trimming, every sheet.
CSV_FILTER = "csv:Text - txt - csv (StarCalc):59,34,76,1,,0,false,true,true,false,false,-1"


def _install() -> str | None:
    """Why it could not be installed, or None once it is."""
    if os.environ.get("TEST_INSTALL_LIBREOFFICE", "1") == "0":
        return "TEST_INSTALL_LIBREOFFICE=0 forbids installing it"
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return f"installing it needs root and apt-get (apt-get install {PACKAGE})"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", PACKAGE]
    for command in (install, ["apt-get", "update", "-q"], install):
        try:
            done = subprocess.run(command, env=env, capture_output=True, timeout=1200, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{' '.join(command)} failed: {exc}"
        if command is install and done.returncode == 0:
            return None
    return f"apt-get install {PACKAGE} failed: {done.stderr.decode(errors='replace')[-300:]}"


def find_soffice() -> tuple[str | None, str]:
    """(the soffice executable, "") or (None, why there is none)."""
    if found := shutil.which("soffice"):
        return found, ""
    reason = _install()
    if reason is None and (found := shutil.which("soffice")):
        return found, ""
    return None, f"LibreOffice (soffice) is not installed: {reason or 'not on PATH after install'}"


def convert_to_csv(soffice: str, xlsx: Path, outdir: Path) -> subprocess.CompletedProcess[str]:
    """Every sheet of `xlsx` as `<stem>-<sheet>.csv` in `outdir`, as LibreOffice shows them."""
    profile = outdir / "lo-profile"  # a profile of its own: no clash with another soffice
    return subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.resolve().as_uri()}",
            "--headless",
            "--convert-to",
            CSV_FILTER,
            "--outdir",
            str(outdir),
            str(xlsx),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
