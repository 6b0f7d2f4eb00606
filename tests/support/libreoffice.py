"""LibreOffice headless for the tests that open the export as a person's spreadsheet would.

The executable, `soffice`, is Debian's `libreoffice-calc`, found or installed by
tests/support/tools.py (TEST_INSTALL_LIBREOFFICE_CALC=0 forbids installing it); without it the
tests that need it are skipped with the reason, never failed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

PACKAGE = "libreoffice-calc"
# CSV export options: `;`, `"`, UTF-8, from line 1, no column formats, system language, quote
# only where needed, detect numbers, cells as shown, no formulas, no trimming, every sheet.
CSV_FILTER = "csv:Text - txt - csv (StarCalc):59,34,76,1,,0,false,true,true,false,false,-1"


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
