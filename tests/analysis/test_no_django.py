"""The analysis package is pure Python: it must never import Django."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "reflectlab" / "analysis"

# A fresh interpreter: whatever Django/Celery module is loaded afterwards was
# imported by the analysis package (or by reflectlab/__init__.py).
PROBE = f"""
import sys
sys.path.insert(0, {str(PACKAGE.parents[1])!r})
import reflectlab.analysis, reflectlab.analysis.io
reflectlab.analysis.analyze("Wait.\\n\\n\\\\boxed{{1}}", reference="1")
bad = sorted(m for m in sys.modules if m == "django" or m.startswith(("django.", "celery")))
print(",".join(bad))
"""


def test_importing_and_running_the_analysis_loads_no_django():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd="/"
    )
    assert result.stdout.strip() == ""


def test_no_module_of_the_analysis_package_names_django():
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(
                n.split(".")[0] in {"django", "rest_framework", "celery"} for n in names
            ), path
