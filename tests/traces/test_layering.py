"""``traces`` is a lower layer: only its URL table may point at the workspace.

The annotation workspace lives in ``annotations/workspace.py`` so that imports
go annotations → traces (see that module's docstring). Pure AST, no Django.
"""

from __future__ import annotations

import ast
from pathlib import Path

TRACES = Path(__file__).resolve().parents[2] / "reflectlab" / "traces"
UPPER = ("reflectlab.annotations", "reflectlab.review", "reflectlab.exports")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_traces_modules_import_no_app_built_on_traces():
    offenders = {
        str(path.relative_to(TRACES)): sorted(n for n in _imports(path) if n.startswith(UPPER))
        for path in TRACES.rglob("*.py")
        if "migrations" not in path.parts and path.name != "urls.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}
