"""Every 409 the API answers has the one ``Conflict`` body (``core.errors.conflict_body``):
``{"error": {"status": 409, "code", "detail"}, "current"?}``.

The endpoint tests check the bodies (runs, judge runs, exports, batch submit,
annotations, claims, reviews); this test keeps a hand-built 409 from coming
back: an API module raises ``Conflict`` and lets ``api.errors`` render it.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "reflectlab"
# A hand-made 409: DRF's constant anywhere, or a literal status 409 in an API module
# (HTML pages may answer 409 with a page: annotations/workspace, review/views).
DRF_CONSTANT = re.compile(r"HTTP_409_CONFLICT")
LITERAL = re.compile(r"status(_code)?\s*=\s*409\b")


def _api_module(path: Path) -> bool:
    return path.name.endswith("apis.py") or path.parent.name == "api"


def test_no_api_module_builds_a_409_by_hand():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts or path == ROOT / "core" / "errors.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if DRF_CONSTANT.search(line) or (_api_module(path) and LITERAL.search(line)):
                offenders.append(f"{path.relative_to(ROOT.parent)}:{number}: {line.strip()}")
    assert offenders == [], "raise core.errors.Conflict instead:\n" + "\n".join(offenders)
