"""Export lifecycle: bundle layout, identical re-exports, cancel/fail leave nothing, worker."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from django.conf import settings

from reflectlab.exports import build, services
from reflectlab.exports.kinds import Stepwise
from reflectlab.exports.models import Export
from tests.exports.factories import AnnotationFactory, corrected_annotation
from tests.factories import TraceFactory


@pytest.fixture
def data(project):
    for _ in range(3):
        corrected_annotation(project)
    AnnotationFactory(
        trace=TraceFactory(project=project),
        project=project,
        first_error_step=-1,
        verdict="correct",
        critique="Fine.",
    )


def test_bundle_has_parquet_jsonl_card_and_manifest(data, run_export):
    export = run_export("all", "bundle")
    assert export.state == "succeeded", export.error
    zf = zipfile.ZipFile(export.path)
    names = zf.namelist()
    assert names[:2] == ["README.md", "manifest.json"]
    assert "data/preference/train-00000-of-00001.parquet" in names or (
        "data/preference/test-00000-of-00001.parquet" in names
    )
    manifest = orjson.loads(zf.read("manifest.json"))
    assert manifest["app_version"] and manifest["schema_version"] == 1
    assert manifest["filters"]["accepted_only"] is True
    for f in manifest["files"]:
        assert hashlib.sha256(zf.read(f["path"])).hexdigest() == f["sha256"]
        if f["path"].endswith(".parquet"):
            assert pq.read_table(io.BytesIO(zf.read(f["path"]))).num_rows == f["rows"]
    card = zf.read("README.md").decode()
    assert card.startswith("---\nconfigs:\n- config_name: ")
    for config in (
        "sft_corrected",
        "preference",
        "unpaired",
        "stepwise",
        "processbench",
        "critique",
        "canonical",
    ):
        assert f"- config_name: {config}\n" in card
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())
    assert export.sha256 == hashlib.sha256(export.path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("kind", "fmt"), [("all", "bundle"), ("preference", "parquet"), ("stepwise", "jsonl")]
)
def test_reexporting_the_same_snapshot_gives_identical_bytes(data, run_export, kind, fmt):
    first, second = run_export(kind, fmt), run_export(kind, fmt)
    assert first.pk != second.pk
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256


def test_finished_file_is_read_only(data, run_export):
    export = run_export("preference")
    assert export.path.stat().st_mode & 0o222 == 0


def test_cancelled_export_leaves_no_file(data, project, user, monkeypatch):
    export = services.export_create(
        project=project, user=user, kind="all", format="bundle", enqueue=False
    )
    original = build.Progress.flush

    def cancel_then_flush(self):
        services.export_cancel(export=export)
        original(self)

    monkeypatch.setattr(build.Progress, "flush", cancel_then_flush)
    services.export_execute(export_id=export.pk)
    export.refresh_from_db()
    assert export.state == "cancelled"
    assert not export.file_name
    assert not export.directory.exists() or list(export.directory.iterdir()) == []
    assert not list(Path(settings.REFLECTLAB_WORK_DIR).glob(f"export-{export.pk}-*"))


def test_failed_export_leaves_no_file_and_says_why(data, project, user, monkeypatch):
    def boom(self, a, ctx, split):
        yield "stepwise", {"prompt": "x"}
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Stepwise, "rows", boom)
    export = services.export_create(
        project=project, user=user, kind="all", format="bundle", enqueue=False
    )
    services.export_execute(export_id=export.pk)
    export.refresh_from_db()
    assert export.state == "failed"
    assert "disk on fire" in export.error
    assert not export.directory.exists() or list(export.directory.iterdir()) == []
    assert not list(Path(settings.REFLECTLAB_WORK_DIR).glob(f"export-{export.pk}-*"))


def test_finished_export_is_not_rerun(data, run_export):
    export = run_export("preference")
    before = export.path.stat().st_mtime_ns
    services.export_execute(export_id=export.pk)
    assert export.path.stat().st_mtime_ns == before
    assert not services.export_cancel(export=export)


@pytest.mark.parametrize(
    ("kind", "fmt", "options"),
    [
        ("canonical", "jsonl", {}),
        ("stepwise", "openai", {}),
        ("preference", "jsonl", {"hint_mode": "user_turn"}),
        ("preference", "jsonl", {"splits": {"train": 0}}),
        ("preference", "jsonl", {"margin": 1}),
        ("preference", "jsonl", {"variant": "stepwise"}),
    ],
)
def test_bad_requests_are_refused(project, user, kind, fmt, options):
    if kind == "canonical":
        kind = "all"
    with pytest.raises(ValueError):
        services.export_create(project=project, user=user, kind=kind, format=fmt, options=options)


def test_create_enqueues_on_commit(project, user, django_capture_on_commit_callbacks):
    from unittest import mock

    with (
        mock.patch("reflectlab.exports.tasks.export_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        export = services.export_create(
            project=project, user=user, kind="preference", format="jsonl"
        )
    delay.assert_called_once_with(export.pk)
    assert export.state == "queued"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_writes_the_export(celery_worker_process, project, user):
    corrected_annotation(project)
    export = services.export_create(project=project, user=user, kind="all", format="bundle")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        export.refresh_from_db()
        if export.is_terminal:
            break
        time.sleep(0.3)
    assert export.state == Export.State.SUCCEEDED, export.error
    assert zipfile.ZipFile(export.path).testzip() is None
    export.path.chmod(0o644)
    export.path.unlink()
