"""No import cycle among the project's modules (``assistant/`` and ``actions/``).

Every ``import`` statement in a module's AST counts, wherever it is: at the top, inside a function
or method (run later, but still a dependency: a cycle hidden in a function breaks as soon as the
import order changes), inside ``try``. Imports under ``if TYPE_CHECKING:`` are left out: with
``from __future__ import annotations`` they never run, they only name types for mypy.

How an import becomes edges, for a module M:
- ``import a.b.c`` and ``from a.b.c import x`` (x not a submodule) depend on ``a.b.c``;
  ``from a.b import c`` where ``a/b/c.py`` exists depends on ``a.b.c`` (and on ``a.b``: see below).
- Importing ``a.b.c`` runs the ``__init__`` of ``a`` and ``a.b`` first, so M depends on those
  packages too, except on M's own parent packages: they are already being imported when M runs
  (Python imports a package before its submodules), so naming them again executes nothing.
  An explicit ``from assistant.desk import Desk`` inside ``assistant/desk/sweep.py`` still counts:
  it reads what the package's ``__init__`` re-exports, and when that ``__init__`` imports the module
  back, the cycle is real.
- A package does not depend on its submodules just by containing them; its ``__init__`` depends on
  what it imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assistant", "actions")


def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module under the project's packages."""
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in the tree, except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking_only(child):
                for sub in child.orelse:
                    walk(sub)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            walk(child)

    walk(tree)
    return found


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def dependencies(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (see the module docstring for the rules)."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:                                  # relative: from .x import y
            here = name.split(".") if is_package else name.split(".")[:-1]
            here = here[:len(here) - (node.level - 1)]
            base = ".".join(here + ([base] if base else []))
        subs = {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules}
        targets.update(subs)
        if len(subs) < len(node.names):                 # names defined (or re-exported) by ``base`` itself
            targets.add(base)
    own = set(_parents(name)) | ({name} if is_package else set())
    deps: set[str] = set()
    for t in targets:
        if t not in modules:
            continue
        deps.add(t)
        deps.update(p for p in _parents(t) if p in modules and p not in own)
    deps.discard(name)
    return deps


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: dependencies(name, path, modules) for name, path in modules.items()}


def tangles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan): modules that all import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import cycle per tangle, as a path that ends where it starts."""
    return [_cycle_in(graph, comp) for comp in tangles(graph)]


def _cycle_in(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One concrete cycle through the component's first module (shortest, by breadth-first search)."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    return component


def test_how_imports_become_edges(tmp_path: Path) -> None:
    modules = project_modules()

    def deps(source: str) -> set[str]:
        path = tmp_path / "m.py"
        path.write_text(source, encoding="utf-8")
        return dependencies("assistant.desk.m", path, modules)      # as if it were assistant/desk/m.py

    # A function-level import counts, with the other package's __init__ it runs.
    assert deps("def f():\n    import assistant.channels.gateway\n") >= {"assistant.channels.gateway",
                                                                         "assistant.channels"}
    # A submodule of its own package: the package is already imported, only the submodule runs.
    assert deps("from assistant.desk import handoff\n") == {"assistant.desk.handoff"}
    # A name the package's __init__ re-exports: a dependency on that __init__.
    assert deps("from assistant.desk import Desk\n") == {"assistant.desk"}
    # Only for the type checker: left out.
    assert deps("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from assistant.console.app import create_app\n") == set()


def test_cycles_are_found_and_shown_as_a_path() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 50                              # the walk found the project
    found = tangles(graph)
    assert not found, "import cycles:\n" + "\n".join(
        f"{' -> '.join(_cycle_in(graph, t))}  (tangle of {len(t)}: {', '.join(t)})" for t in found)
