"""The service's layers import downwards only (import-linter's `layers` contract in pyproject.toml;
`make lint` runs it too). Each check runs `lint-imports` on a tree: the real one, and copies of it
with one import that breaks a rule, so the contract is shown to catch what it forbids."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with `tree`'s pyproject.toml, importing `service` from `tree`."""
    if not LINT_IMPORTS.exists():
        pytest.skip("import-linter is not installed (make install brings it: the dev extra)")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_service_keeps_its_layers() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def copy_with(tmp_path: Path, module: str, statement: str) -> Path:
    shutil.copytree(ROOT / "service", tmp_path / "service", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "service" / module
    path.write_text(path.read_text() + f"\n{statement}\n")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "statement", "caught"),
    [
        # the handlers never reach past the read side into the database, nor into the root
        ("http/status.py", "from service.db import status_queries", "service.http.status -> "),
        ("http/verifier.py", "from service import runtime", "service.http.verifier -> "),
        # pure logic stays pure, even for an import only a function makes
        ("domain/delivery.py", "def later():\n    from service.db import engine", "domain"),
        # the read side and the intake are rooms of one layer that never import each other
        ("operations/status.py", "import service.intake", "service.operations.status -> "),
    ],
)
def test_an_import_against_the_layers_is_caught(
    tmp_path: Path, module: str, statement: str, caught: str
) -> None:
    result = lint_imports(copy_with(tmp_path, module, statement))
    assert result.returncode != 0
    assert " broken" in result.stdout and "0 broken" not in result.stdout
    assert caught in result.stdout, result.stdout
