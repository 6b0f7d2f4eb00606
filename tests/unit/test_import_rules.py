"""The service's layers import downwards only: domain at the bottom, then db, outbox, intake,
and http on top; the application, the runtime and the CLI put them together. Read from the
source (tests/support/import_rules.py), so a rule broken anywhere fails here first."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.import_rules import (
    cycles,
    dependencies,
    forbidden,
    imports_in,
    violations,
)

SERVICE = Path(__file__).resolve().parents[2] / "service"

# part -> the other parts it may import
LAYERS = {
    "service.domain": set(),
    "service.db": {"service.domain", "service.settings"},
    "service.outbox": {"service.db", "service.domain", "service.settings"},
    "service.intake": {"service.outbox", "service.db", "service.domain", "service.settings"},
    # The operators' alerts watch the spool and the database: beside the intake, below http.
    "service.alerts": {"service.outbox", "service.db", "service.domain", "service.settings"},
    # The server room (the supervisor, uvicorn's guarded protocol) needs only the settings.
    "service.server": {"service.settings"},
    "service.http": {
        "service.server",
        "service.alerts",
        "service.intake",
        "service.outbox",
        "service.db",
        "service.domain",
        "service.settings",
        "service.logs",
        "service.runtime",
    },
}
LOWER = ("service.domain", "service.db", "service.outbox", "service.intake", "service.alerts")
UPPER = ("service.http", "service.app", "service.cli", "service.runtime")


@pytest.mark.parametrize("part", list(LAYERS))
def test_each_layer_imports_only_the_layers_below_it(part: str) -> None:
    name = part.removeprefix("service.")
    assert (SERVICE / name).is_dir() or (SERVICE / f"{name}.py").is_file(), f"no {part}"
    imports = imports_in(SERVICE)
    assert [str(i) for i in violations(imports, part, LAYERS[part])] == []


def test_the_lower_layers_never_import_http_app_cli_or_runtime() -> None:
    assert [str(i) for i in forbidden(imports_in(SERVICE), LOWER, UPPER)] == []


def test_no_two_parts_of_the_service_import_each_other() -> None:
    assert cycles(dependencies(imports_in(SERVICE))) == []


# The checker itself, on a made-up service in tmp_path.


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / "service" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root / "service"


CLEAN = {
    "__init__.py": "",
    "settings.py": "from service.domain.signature import parse_secrets\n",
    "domain/__init__.py": "",
    "domain/signature.py": "import hmac\nfrom service.domain import delivery\n",
    "domain/delivery.py": "",
    "db/__init__.py": "",
    "db/engine.py": "from service import settings\nfrom service.domain.delivery import x\n",
}


def test_a_clean_tree_breaks_no_rule(tmp_path: Path) -> None:
    imports = imports_in(make_tree(tmp_path, CLEAN))
    assert {(i.importer, i.imported) for i in imports} == {
        ("service.settings", "service.domain.signature"),
        ("service.domain.signature", "service.domain"),
        ("service.db.engine", "service.settings"),
        ("service.db.engine", "service.domain.delivery"),
    }
    for part, allowed in LAYERS.items():
        assert violations(imports, part, allowed) == []
    assert cycles(dependencies(imports)) == []


@pytest.mark.parametrize(
    "statement",
    [
        "from service.db.engine import DatabaseTarget",
        "import service.db.engine",
        "from service import db",
        "from ..db import engine",
        "if TYPE_CHECKING:\n    from service.db.engine import DatabaseTarget",
        "def later():\n    from service.db import engine",
    ],
)
def test_a_domain_module_importing_db_is_caught(tmp_path: Path, statement: str) -> None:
    files = {**CLEAN, "domain/delivery.py": f"import json\n{statement}\n"}
    imports = imports_in(make_tree(tmp_path, files))
    (caught,) = violations(imports, "service.domain", LAYERS["service.domain"])
    assert caught.importer == "service.domain.delivery"
    assert caught.imported.startswith("service.db")
    assert caught.path == tmp_path / "service" / "domain" / "delivery.py"
    assert caught.line == 2 + statement.count("\n")  # the import's own line
    # …and the same import closes a cycle: db imports settings, which imports domain.
    assert cycles(dependencies(imports)) == [["service.db", "service.domain", "service.settings"]]


def test_a_lower_layer_importing_the_runtime_is_caught(tmp_path: Path) -> None:
    files = {
        **CLEAN,
        "runtime.py": "",
        "outbox/__init__.py": "",
        "outbox/x.py": "from service import runtime\n",
    }
    imports = imports_in(make_tree(tmp_path, files))
    assert [(i.importer, i.imported) for i in forbidden(imports, LOWER, UPPER)] == [
        ("service.outbox.x", "service.runtime")
    ]
