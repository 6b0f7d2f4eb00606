"""Which part of the service imports which: read from the source with `ast`, nothing imported.

A *part* is a top-level package or module of `service`: `service.domain` (any module under
service/domain/), `service.intake` (service/intake.py, or a package of that name),
`service.settings`, … Every import statement counts, wherever it stands (in a function, under
`if TYPE_CHECKING:`): a layer that needs another only for its types still depends on it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    path: Path  # the importing file
    line: int
    importer: str  # its module, e.g. service.db.store
    imported: str  # e.g. service.domain.delivery

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def module_of(package_dir: Path, path: Path) -> str:
    parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The module a `from … import` names, relative imports resolved."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]  # a module's relative imports start from its package
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_in(package_dir: Path) -> list[Import]:
    """Every import of the package's own modules, in every .py file under `package_dir`."""
    root = package_dir.name
    found: list[Import] = []
    for path in sorted(package_dir.rglob("*.py")):
        importer = module_of(package_dir, path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = _absolute(importer, path.name == "__init__.py", node)
                # `from service import settings` names the module service.settings.
                names = (
                    [f"{module}.{alias.name}" for alias in node.names]
                    if module == root
                    else [module]
                )
            for name in names:
                if name == root or name.startswith(root + "."):
                    found.append(Import(path, node.lineno, importer, name))
    return found


def part_of(module: str) -> str:
    """`service.db.store` -> `service.db`; `service.settings` -> `service.settings`."""
    return ".".join(module.split(".")[:2])


def violations(imports: Iterable[Import], part: str, allowed: Iterable[str]) -> list[Import]:
    """The imports by modules of `part` of any part not in `allowed` (its own is always fine)."""
    permitted = {part, *allowed}
    return [
        i for i in imports if part_of(i.importer) == part and part_of(i.imported) not in permitted
    ]


def forbidden(
    imports: Iterable[Import], parts: Iterable[str], banned: Iterable[str]
) -> list[Import]:
    """The imports by modules of any of `parts` of any of the `banned` parts."""
    importers, banned_parts = set(parts), set(banned)
    return [
        i
        for i in imports
        if part_of(i.importer) in importers and part_of(i.imported) in banned_parts
    ]


def dependencies(imports: Iterable[Import]) -> dict[str, set[str]]:
    """part -> the other parts it imports."""
    graph: dict[str, set[str]] = {}
    for i in imports:
        source, target = part_of(i.importer), part_of(i.imported)
        graph.setdefault(source, set())
        graph.setdefault(target, set())
        if source != target:
            graph[source].add(target)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The groups of parts that import each other, directly or not (Tarjan's components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
