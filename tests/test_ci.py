"""A missing prerequisite skips on a laptop and fails in CI."""

from __future__ import annotations

import pytest
from _pytest.outcomes import Failed, Skipped

from tests.ci import missing


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_missing_prerequisite_fails_in_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(Failed, match="no model virtualenv"):
        missing("no model virtualenv at /x")


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_missing_prerequisite_skips_elsewhere_with_the_reason(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(Skipped, match="no model virtualenv at /x"):
        missing("no model virtualenv at /x")
