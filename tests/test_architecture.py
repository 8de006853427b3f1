"""The shape of the code base, read from the source (pure AST: no Django, nothing imported).

Rules (STYLE.md, issue 11):

- **No import cycle** among ``reflectlab/`` modules, counting every import: at
  module level, inside functions and under ``if TYPE_CHECKING:`` (a dependency
  is a dependency, wherever the ``import`` statement hides). One pair is
  allowed: a module that enqueues one of its own app's Celery tasks imports
  ``<app>.tasks`` inside the function (the task module imports it back), as long
  as every task is a *thin door* — its body only calls into the app (at most
  ``MAX_TASK_STATEMENTS`` statements besides the docstring).
- **No function-level import of a reflectlab module**, except that enqueueing
  import and ``AppConfig.ready`` (Django's place for import side effects).
- **No module over ``MAX_LINES`` lines** (migrations excepted).
- **``reflectlab/analysis`` is pure**: it imports the standard library, itself and
  the few pure-Python libraries in ``ANALYSIS_LIBRARIES`` — never Django, Celery
  or any other reflectlab module.

``python tests/test_architecture.py`` prints the module map these tests check.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "reflectlab"
MAX_LINES = 500
MAX_TASK_STATEMENTS = 6
ANALYSIS = "reflectlab.analysis"
ANALYSIS_LIBRARIES = {"math_verify", "orjson"}

# Areas other engineers are reshaping right now (issue 11). Each mark names who
# and why; the lead removes it when their branch lands. A strict xfail turns red
# the moment the area is fixed, so a stale mark cannot linger.
PENDING_CYCLES = {}
PENDING_LAZY_IMPORTS: dict[str, str] = {}
PENDING_BIG_MODULES: dict[str, str] = {}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    in_function: bool
    in_ready: bool


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for p in sorted((ROOT / PACKAGE).rglob("*.py"))
        if "migrations" not in p.parts
    }


def _resolve(name: str) -> str | None:
    """The reflectlab module a dotted name lives in (``a.b.func`` → ``a.b``)."""
    mods = modules()
    while name:
        if name in mods:
            return name
        name = name.rpartition(".")[0]
    return None


def _absolute(source: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = source if modules()[source].name == "__init__.py" else source.rpartition(".")[0]
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imported_names(source: str, node: ast.stmt) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        module = _absolute(source, node)
        for alias in node.names:
            # ``from pkg import sub`` imports the submodule; ``from mod import f`` the module.
            yield f"{module}.{alias.name}" if _resolve(f"{module}.{alias.name}") else module


class _Visitor(ast.NodeVisitor):
    def __init__(self, source: str):
        self.source = source
        self.found: list[tuple[ast.stmt, bool, bool]] = []
        self.functions: list[str] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.found.append((node, bool(self.functions), self.functions[-1:] == ["ready"]))

    visit_Import = visit_ImportFrom = _import


@cache
def imports(source: str) -> tuple[ast.Module, list[Import], list[str]]:
    """(tree, imports of reflectlab modules, top-level names of everything imported)."""
    tree = ast.parse(modules()[source].read_text(encoding="utf-8"))
    visitor = _Visitor(source)
    visitor.visit(tree)
    internal, external = [], []
    for node, in_function, in_ready in visitor.found:
        for name in _imported_names(source, node):
            target = _resolve(name)
            if target is None:
                external.append(name.split(".")[0])
            elif target != source:
                internal.append(Import(source, target, node.lineno, in_function, in_ready))
    return tree, internal, external


def _app(module: str) -> str:
    return ".".join(module.split(".")[:2])


def is_enqueue(edge: Import) -> bool:
    """A module importing its own app's tasks inside a function: the allowed door."""
    return (
        edge.in_function
        and edge.target == f"{_app(edge.source)}.tasks"
        and _app(edge.source) != edge.source
    )


def graph(*, allow_enqueue: bool) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {m: set() for m in modules()}
    for source in modules():
        for edge in imports(source)[1]:
            if not (allow_enqueue and is_enqueue(edge)):
                out[source].add(edge.target)
    return out


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _pending(module: str, pending: dict[str, str]) -> str | None:
    for prefix, reason in pending.items():
        if module == prefix or module.startswith(prefix + "."):
            return reason
    return None


def line_counts() -> dict[str, int]:
    return {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in modules().items()}


def lazy_imports() -> list[Import]:
    return [
        edge
        for source in modules()
        for edge in imports(source)[1]
        if edge.in_function and not edge.in_ready and not is_enqueue(edge)
    ]


# --- import cycles -----------------------------------------------------------------


def test_the_graph_sees_function_level_and_relative_imports(tmp_path, monkeypatch):
    """The checker itself: a cycle hidden in a function, through a relative import, is found."""
    pkg = tmp_path / PACKAGE / "app"
    pkg.mkdir(parents=True)
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from reflectlab.app.a import x\n")
    (pkg / "services.py").write_text("def go():\n    from reflectlab.app.tasks import t\n")
    (pkg / "tasks.py").write_text("from reflectlab.app import services\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    modules.cache_clear()
    imports.cache_clear()
    try:
        assert cycles(graph(allow_enqueue=True)) == [["reflectlab.app.a", "reflectlab.app.b"]]
        assert ["reflectlab.app.services", "reflectlab.app.tasks"] in cycles(
            graph(allow_enqueue=False)
        )
    finally:
        modules.cache_clear()
        imports.cache_clear()


def test_no_import_cycles_among_reflectlab_modules():
    found = [
        c
        for c in cycles(graph(allow_enqueue=True))
        if not all(_pending(m, PENDING_CYCLES) for m in c)
    ]
    assert found == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


@pytest.mark.parametrize("area", sorted(PENDING_CYCLES))
def test_pending_area_has_no_import_cycle(area, request):
    request.applymarker(pytest.mark.xfail(strict=True, reason=PENDING_CYCLES[area]))
    found = [c for c in cycles(graph(allow_enqueue=True)) if all(m.startswith(area) for m in c)]
    assert found == []


def test_every_task_is_a_thin_door():
    """The enqueue cycle is allowed only because a task holds no logic of its own."""
    fat = []
    for name in modules():
        if not name.endswith(".tasks"):
            continue
        for node in imports(name)[0].body:
            if not isinstance(node, ast.FunctionDef):
                continue
            decorators = {ast.unparse(d).split("(")[0] for d in node.decorator_list}
            if not decorators & {"shared_task", "app.task"}:
                continue
            body = node.body[1:] if ast.get_docstring(node) else node.body
            statements = sum(isinstance(n, ast.stmt) for s in body for n in ast.walk(s))
            if statements > MAX_TASK_STATEMENTS:
                fat.append(f"{name}.{node.name}: {statements} statements")
    assert fat == []


def test_no_function_level_imports_of_reflectlab_modules():
    found = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in lazy_imports()
        if not _pending(e.source, PENDING_LAZY_IMPORTS)
    ]
    assert found == []


@pytest.mark.parametrize("area", sorted(PENDING_LAZY_IMPORTS))
def test_pending_area_has_no_function_level_imports(area, request):
    request.applymarker(pytest.mark.xfail(strict=True, reason=PENDING_LAZY_IMPORTS[area]))
    assert [e for e in lazy_imports() if _pending(e.source, {area: ""}) is not None] == []


# --- module size ---------------------------------------------------------------------


def test_no_module_is_over_the_line_limit():
    big = {m: n for m, n in line_counts().items() if n > MAX_LINES and m not in PENDING_BIG_MODULES}
    assert big == {}


@pytest.mark.parametrize("module", sorted(PENDING_BIG_MODULES))
def test_pending_big_module_is_under_the_line_limit(module, request):
    request.applymarker(pytest.mark.xfail(strict=True, reason=PENDING_BIG_MODULES[module]))
    assert line_counts()[module] <= MAX_LINES


# --- the pure analysis package ----------------------------------------------------------


def test_analysis_imports_only_itself_the_standard_library_and_pure_libraries():
    wrong = []
    for name in modules():
        if not (name == ANALYSIS or name.startswith(ANALYSIS + ".")):
            continue
        _tree, internal, external = imports(name)
        wrong += [
            f"{name}:{e.line} -> {e.target}" for e in internal if not e.target.startswith(ANALYSIS)
        ]
        wrong += [
            f"{name} -> {top}"
            for top in external
            if top not in sys.stdlib_module_names
            and top not in ANALYSIS_LIBRARIES
            and top != "__future__"
        ]
    assert wrong == []


def module_map() -> str:
    lines = ["== import cycles (every import; enqueue doors allowed)"]
    lines += [f"   {' <-> '.join(c)}" for c in cycles(graph(allow_enqueue=True))] or ["   none"]
    lines.append("== services <-> tasks enqueue doors (allowed)")
    enqueue = sorted(
        {f"{e.source} -> {e.target}" for m in modules() for e in imports(m)[1] if is_enqueue(e)}
    )
    lines += [f"   {d}" for d in enqueue] or ["   none"]
    lines.append("== function-level imports of reflectlab modules")
    lines += [f"   {e.source}:{e.line} -> {e.target}" for e in lazy_imports()] or ["   none"]
    lines.append(f"== modules over {MAX_LINES} lines")
    big = [f"   {m}: {n}" for m, n in sorted(line_counts().items()) if n > MAX_LINES]
    lines += big or ["   none"]
    return "\n".join(lines)


if __name__ == "__main__":
    print(module_map())
