"""The engine must never import Textual: the console and the CLI are thin front ends over it.

Checked in a fresh interpreter so that other tests' imports cannot hide a leak.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import patchtui

FRONT_END_PACKAGES = ("patchtui.tui",)


def engine_modules() -> list[str]:
    names = []
    for module in pkgutil.walk_packages(patchtui.__path__, prefix="patchtui."):
        if not module.name.startswith(FRONT_END_PACKAGES):
            names.append(module.name)
    return names


def test_engine_modules_exist() -> None:
    names = engine_modules()
    for expected in ("patchtui.engine.scan", "patchtui.drivers.base", "patchtui.transport.base"):
        assert expected in names


def test_engine_never_imports_textual() -> None:
    modules = engine_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"engine imported Textual modules: {result.stdout}"


def test_cli_help_does_not_import_textual() -> None:
    """`patchtui scan` must start fast and work where no terminal UI can run."""
    code = (
        "import sys\n"
        "from patchtui.cli import build_parser\n"
        "build_parser()\n"
        "print('textual' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == "False", result.stderr


def _runtime_imports(tree: ast.AST) -> set[str]:
    """Modules a file imports when it runs (imports under ``if TYPE_CHECKING:`` excluded)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_screens_and_widgets_never_import_the_app() -> None:
    """app.py imports the screens; a screen importing app.py back (even inside a
    method) made a cycle. Screens reach the app through a typed property instead."""
    package = Path(patchtui.__file__).parent / "tui"
    offenders = [
        str(path.relative_to(package))
        for folder in ("screens", "widgets")
        for path in sorted((package / folder).glob("*.py"))
        if "patchtui.tui.app" in _runtime_imports(ast.parse(path.read_text()))
    ]
    assert offenders == []


def _module_imports(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` -> the modules of that package it imports at run time
    (inside functions too: a deferred import still ties the two modules together)."""
    folder = Path(patchtui.__file__).parent.joinpath(*package.split(".")[1:])
    modules = {f"{package}.{path.stem}": path for path in folder.glob("*.py")}
    modules.pop(f"{package}.__init__", None)
    return {
        name: {dep for dep in _runtime_imports(ast.parse(path.read_text())) if dep in modules}
        for name, path in modules.items()
    }


def _find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle in ``graph`` as a path (first module repeated at the end), or []."""
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> list[str]:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                return [*trail[trail.index(dep) :], node, dep] if dep in trail else [node, dep]
            if dep not in state:
                found = visit(dep, [*trail, node])
                if found:
                    return found
        state[node] = "done"
        return []

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [])
            if found:
                return found
    return []


def test_find_cycle_finds_one() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) == []


def test_inventory_modules_import_without_cycles() -> None:
    """ansible.py borrowed loader.py's private YAML reader while loader.py imported
    ansible.py back (deferred, inside a function); the reader now lives in yamlread.py."""
    graph = _module_imports("patchtui.inventory")
    assert "patchtui.inventory.yamlread" in graph["patchtui.inventory.ansible"]
    assert _find_cycle(graph) == []
