"""The house rules of the repository's layout, read from the source with ``ast``.

- No import circle between the project's modules (tests and benchmarks included), counting
  every import: at the top, inside functions and under ``TYPE_CHECKING``.
- Inside every package, imports only go down: the package's rooms (its subfolders and
  modules) import one another without a circle, so each folder sits above or below
  another, never both.
- The bots never import a model: in ``bot/`` only the worker side of the pool imports
  ``inference``, ``models`` or torch.
- No module over ``MAX_LINES`` lines outside ``tests/``; every folder says what it is for in
  its ``__init__`` docstring.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "inference", "models", "rapsim", "i18n", "bench", "tests")
MAX_LINES = 400
# the worker side of the pool: the only modules of bot/ that run inside worker processes
BOT_MODEL_SIDE = frozenset({"bot.pool.worker", "bot.pool.runners"})
MODEL_ROOTS = frozenset({"inference", "models", "torch", "transformers", "resemblyzer"})


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "__pycache__" not in path.parts:
                found[_name(path)] = path
    return found


MODULES = _modules()


def _imported(module: str, path: Path) -> set[str]:
    """Every absolute module name ``module`` imports (project modules resolved to the
    module or package that defines the name; others as written)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[: len(package) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names.update(
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            )
    return names


def _project(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


IMPORTS = {m: _imported(m, p) for m, p in MODULES.items()}
GRAPH = {m: {t for t in map(_project, names) if t and t != m} for m, names in IMPORTS.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
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
                part = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    part.append(top)
                    if top == node:
                        break
                if len(part) > 1:
                    found.append(sorted(part))
    return found


def _room(package: str, module: str) -> str | None:
    """The child of ``package`` (a subpackage or a module; ``package`` itself for its
    ``__init__``) that holds ``module``; None when ``module`` is outside ``package``."""
    if module == package:
        return f"{package}.__init__"
    prefix = f"{package}." if package else ""
    if not module.startswith(prefix):
        return None
    return prefix + module[len(prefix) :].split(".")[0]


def _rooms_graph(package: str) -> dict[str, set[str]]:
    rooms: dict[str, set[str]] = defaultdict(set)
    for source, targets in GRAPH.items():
        a = _room(package, source)
        if a is None:
            continue
        rooms[a]
        for target in targets:
            b = _room(package, target)
            if b is not None and b != a:
                rooms[a].add(b)
    return rooms


def test_the_graph_sees_the_project():
    # the test would pass vacuously if it read nothing or resolved no import
    assert len(MODULES) > 100
    assert "inference.pipeline" in GRAPH["inference.analyzer"]
    assert "bot.service" in GRAPH["bot.app"]
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_between_modules():
    circles = _circles(GRAPH)
    assert not circles, f"modules that import each other (directly or round a loop): {circles}"


@pytest.mark.parametrize(
    "package",
    ["", *sorted({m.rpartition(".")[0] for m in MODULES if "." in m} | set(PACKAGES))],
)
def test_imports_only_go_down_inside_each_package(package):
    circles = _circles(_rooms_graph(package))
    assert not circles, f"rooms of {package or 'the repository'} that import each other: {circles}"


def test_the_bots_never_import_a_model():
    offenders = {
        m: sorted(n for n in names if n.split(".")[0] in MODEL_ROOTS)
        for m, names in IMPORTS.items()
        if m.split(".")[0] == "bot" and m not in BOT_MODEL_SIDE
    }
    offenders = {m: names for m, names in offenders.items() if names}
    assert not offenders, f"bot modules that import a model: {offenders}"


def test_no_module_over_the_line_limit():
    long = {
        m: n
        for m, p in MODULES.items()
        if not m.startswith("tests") and (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by concern): {long}"


def test_every_folder_says_what_it_is_for():
    packages = sorted(m for m, p in MODULES.items() if p.name == "__init__.py")
    assert "inference.audio" in packages and "bot.pool" in packages
    silent = [m for m in packages if not ast.get_docstring(ast.parse(MODULES[m].read_text()))]
    silent = [m for m in silent if not m.startswith("tests")]
    assert not silent, f"folders whose __init__.py has no docstring: {silent}"
