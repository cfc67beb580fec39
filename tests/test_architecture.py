"""The import graph of the project's own modules: dependencies point one way, and there are no cycles.

    common  <-  annotation  <-  training        (an arrow: "is imported by"; prefstudio wires them together)

- `annotation` imports nothing from `training`: where it needs training (jobs, trainers, reward models) it asks
  annotation/extensions.py, which training answers in its AppConfig.ready().
- `common` imports neither app, nor Django: plain Python both apps share.
- No cycles between modules (strongly connected components of more than one module).

What counts as an import: every `import` / `from ... import` statement in the file, at module level or inside a
function or an `if TYPE_CHECKING:` block. A lazy import couples two modules as much as an eager one (it only
moves the failure to run time), so it counts for the direction rule and for cycles alike. `from package import
name` counts as an import of the package (its __init__ runs) and of the submodule `package.name` if there is
one. Not seen: imports by name at run time (`importlib.import_module(string)`), which the project keeps for
discovering plugins (job runner modules, a trainer's engine entry point) and Celery tasks sent by name.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("annotation", "training", "common", "prefstudio")

def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imported_names(name: str, path: Path) -> set[str]:
    """Every module name the file's import statements name (absolute, relative ones resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (an imported name resolved to the longest module it names);
    imports of anything outside the project are kept as they are written (for the Django check)."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for imported in _imported_names(name, path):
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
            elif not target:
                graph[name].add(imported)  # a third-party module
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for root in list(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def _edges(graph: dict[str, set[str]], source: str, targets: tuple[str, ...]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, bs in graph.items() for b in bs
                  if a.split(".")[0] == source and b.split(".")[0] in targets)


def test_annotation_imports_nothing_from_training():
    """annotation asks training through annotation/extensions.py; an import, even inside a function, fails."""
    assert _edges(import_graph(), "annotation", ("training",)) == []


def test_common_imports_neither_app_nor_django():
    graph = import_graph()
    assert _edges(graph, "common", ("annotation", "training", "prefstudio", "django", "rest_framework")) == []


def test_no_import_cycles():
    found = cycles(import_graph())
    assert [sorted(c) for c in found] == []


def test_the_graph_sees_lazy_imports_and_cycles():
    """The checks above would pass vacuously on a graph that missed function-level imports or cycles."""
    graph = import_graph()
    # A function-level import (training/jobs/runners/curate.py imports annotation's services inside `run`).
    assert "annotation.services.datasets" in graph["training.jobs.runners.curate"]
    assert {frozenset(c) for c in cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})} == {
        frozenset({"a", "b", "c"})}
    assert _edges({"annotation.x": {"training.y"}}, "annotation", ("training",)) == ["annotation.x -> training.y"]
