"""Headless Chromium for tests that look at a page as a person would. The executable is Debian's
`chromium`, found or installed by tests/support/tools.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

HEADLESS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def dump_dom(chromium: str, url: str, profile: Path, width: int = 1200, *extra: str) -> str:
    """The DOM Chromium built from `url`, serialised (`extra`: more switches, e.g. no script)."""
    result = subprocess.run(
        [chromium, *HEADLESS, f"--user-data-dir={profile}", f"--window-size={width},2400",
         *extra, "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(chromium: str, url: str, profile: Path, path: Path, size: str = "1200,2400") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [chromium, *HEADLESS, "--hide-scrollbars", f"--user-data-dir={profile}",
         f"--screenshot={path}", f"--window-size={size}", url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and path.stat().st_size > 10_000, result.stderr[-2000:]
