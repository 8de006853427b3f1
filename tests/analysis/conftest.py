"""Fixtures for the pure analysis package: no database, no Django."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_traces_dir() -> Path:
    base = Path(os.environ.get("REFLECTLAB_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    return base / "traces"


def trace_files() -> list[Path]:
    folder = shared_traces_dir()
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def load_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(params=trace_files() or [None], ids=lambda p: p.stem if p else "no-data")
def shared_trace_file(request: pytest.FixtureRequest) -> Path:
    if request.param is None:
        pytest.skip(f"shared traces absent at {shared_traces_dir()} (set REFLECTLAB_SHARED_DATA)")
    return request.param
