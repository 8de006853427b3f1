"""What a test does when something it needs is missing: skip here, fail in CI.

CI (``CI=true``, set by ``.ci/run`` and by every hosted runner) promises the
model virtualenv, the model server and Chromium, so a missing piece there is
a broken pipeline, not a reason to report green.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def missing(reason: str) -> None:
    """Skip with ``reason``; in CI fail with it instead."""
    if in_ci():
        pytest.fail(f"{reason} — CI must provide it (CI={os.environ['CI']})", pytrace=False)
    pytest.skip(reason)
