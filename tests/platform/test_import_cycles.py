"""House rule 12: no import cycles among src/packfinderz modules, and kit never imports a domain.

The graph is read with `ast` (every `import` and `from ... import`, at module level or inside a
function, since a function-level import that goes back up is still a loop; only `if TYPE_CHECKING:`
blocks are left out, as they never run). An edge goes to the module named, not to its parent packages:
a module importing a sibling through its package's `__init__` is how packages work, not a loop.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PLATFORM = frozenset({"kit", "config"})


def _modules(src: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under src/<package>."""
    found: dict[str, Path] = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (n for child in node.orelse for n in _import_nodes_of(child))
            continue
        yield from _import_nodes_of(node)


def _import_nodes_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _import_nodes(node)


def import_graph(src: Path, package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = _modules(src, package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        current_package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name in modules)
                continue
            base = node.module or ""
            if node.level:
                anchor = current_package.split(".")[: len(current_package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    targets.add(submodule)
                elif base in modules:
                    targets.add(base)
        targets.discard(name)
        graph[name] = targets
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_there_is_no_import_cycle_among_packfinderz_modules() -> None:
    graph = import_graph(SRC, "packfinderz")
    assert len(graph) > 100  # the walk found the package
    assert find_cycles(graph) == []


def test_kit_never_imports_a_domain() -> None:
    graph = import_graph(SRC, "packfinderz")
    leaks = {
        module: sorted(t for t in targets if t.split(".")[1] not in PLATFORM)
        for module, targets in graph.items()
        if module.startswith("packfinderz.kit")
    }
    assert {module: targets for module, targets in leaks.items() if targets} == {}


def test_every_module_imports() -> None:
    for name in sorted(_modules(SRC, "packfinderz")):
        importlib.import_module(name)


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (  # a loop through a function-level import, the way cli._settings used to come back
            {
                "pkg/__init__.py": "",
                "pkg/cli.py": "from pkg.sub import cli as sub\n",
                "pkg/sub/__init__.py": "",
                "pkg/sub/cli.py": "def run():\n    from pkg.cli import settings\n",
            },
            [["pkg.cli", "pkg.sub.cli"]],
        ),
        (  # a three-module loop through relative imports
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from . import b\n",
                "pkg/b.py": "from .c import thing\n",
                "pkg/c.py": "import pkg.a\n",
            },
            [["pkg.a", "pkg.b", "pkg.c"]],
        ),
        (  # TYPE_CHECKING-only imports never run: no loop
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "from pkg import b\n",
                "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n",
            },
            [],
        ),
    ],
)
def test_the_walk_finds_a_planted_cycle(
    tmp_path: Path, files: dict[str, str], expected: list[list[str]]
) -> None:
    _write(tmp_path, files)
    assert find_cycles(import_graph(tmp_path, "pkg")) == expected
