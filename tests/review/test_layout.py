"""The review app's rooms: selectors read and import no service; no module is a god module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "reflectlab" / "review"
SERVICES = {"reflectlab.review.claims", "reflectlab.review.queue", "reflectlab.review.decisions"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("module", ["selectors.py", "claims_pg.py", "policy.py", "agreement.py"])
def test_reads_import_no_service(module):
    assert not imported(APP / module) & SERVICES


def test_services_import_in_one_direction():
    # queue <- claims <- decisions: never back.
    assert not imported(APP / "queue.py") & {
        "reflectlab.review.claims",
        "reflectlab.review.decisions",
    }
    assert "reflectlab.review.decisions" not in imported(APP / "claims.py")


def test_no_review_module_is_over_500_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in APP.glob("*.py")}
    assert max(sizes.values()) <= 500, sizes
