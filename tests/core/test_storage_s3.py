"""Uploads and exports through an S3-compatible server (moto in server mode).

The web side (this process) and a real worker process get different local
folders, so the only thing connecting them is the bucket.
"""

from __future__ import annotations

import hashlib
import time

import httpx
import orjson
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from reflectlab.exports import services
from reflectlab.exports.models import Export
from reflectlab.prompts.models import ImportJob
from reflectlab.traces.models import Trace
from tests.exports.factories import AnnotationFactory, corrected_annotation
from tests.factories import MembershipFactory, UserFactory

TRACES = b"".join(
    orjson.dumps(
        {
            "id": f"t{i}",
            "prompt": f"What is {i} + {i}?",
            "reference_answer": str(2 * i),
            "response": f"{i} + {i} = {2 * i}.\n\nWait, let me check: yes.\n</think>\\boxed{{{2 * i}}}",
            "model": "tiny",
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )
    for i in range(1, 6)
)


def _files_under(path) -> list:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


@pytest.fixture
def web(settings, tmp_path, s3):
    """This process as the web server: its own folders, storage in the bucket."""
    settings.STORAGES = s3.storages()
    settings.MEDIA_ROOT = tmp_path / "web" / "media"
    settings.REFLECTLAB_EXPORTS_DIR = tmp_path / "web" / "exports"
    settings.REFLECTLAB_WORK_DIR = tmp_path / "web" / "work"
    return tmp_path / "web"


@pytest.fixture
def celery_worker_env(s3, tmp_path):
    worker = tmp_path / "worker"
    return {
        **s3.env(),
        "MEDIA_ROOT": str(worker / "media"),
        "REFLECTLAB_EXPORTS_DIR": str(worker / "exports"),
        "REFLECTLAB_WORK_DIR": str(worker / "work"),
    }


def _wait(obj, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        obj.refresh_from_db()
        if obj.is_terminal:
            return obj
        time.sleep(0.3)
    raise AssertionError(f"{obj} did not finish")


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_web_and_worker_share_only_the_bucket(
    web, s3, celery_worker_env, celery_worker_process, project, user, settings, tmp_path
):
    settings.REFLECTLAB_SYNC_IMPORT_MAX_BYTES = 0  # the worker imports the upload
    api = APIClient()
    api.force_authenticate(user)

    # 1. Upload through the web; the worker reads the file from the bucket.
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("traces.jsonl", TRACES, content_type="application/jsonl")
    response = api.post(
        reverse("api-traces-import", args=[project.pk]), {"file": upload}, format="multipart"
    )
    assert response.status_code == 202, response.content
    job = _wait(ImportJob.objects.get(pk=response.json()["id"]))
    assert job.state == ImportJob.State.SUCCEEDED, job.errors
    assert job.rows_written == 5
    assert [k for k in s3.keys("uploads/") if k.endswith(".jsonl")], s3.keys()

    # 2. Export on the worker into the bucket (canonical: annotated traces).
    for trace in Trace.objects.filter(project=project):
        AnnotationFactory(trace=trace)
    response = api.post(
        reverse("api-exports", args=[project.pk]),
        {"kind": "canonical", "format": "jsonl"},
        format="json",
    )
    assert response.status_code in (201, 202), response.content
    export = _wait(Export.objects.get(pk=response.json()["id"]))
    assert export.state == Export.State.SUCCEEDED, export.error
    assert s3.keys("exports/") == [f"exports/{export.key}"]

    # 3. Download through the web, streamed from the bucket.
    response = api.get(reverse("api-export-download", args=[export.pk]))
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == export.sha256 == response["X-Content-SHA256"]
    rows = [orjson.loads(line) for line in body.splitlines()]
    assert sorted(r["trace"]["external_id"] for r in rows) == [f"t{i}" for i in range(1, 6)]

    # Neither process kept a file of its own: the bucket is the only copy.
    assert _files_under(web / "exports") == []
    assert _files_under(web / "media") == []
    assert _files_under(tmp_path / "worker" / "exports") == []
    assert _files_under(tmp_path / "worker" / "media") == []
    assert _files_under(tmp_path / "worker" / "work") == []


@pytest.fixture
def run_export(project, user):
    def run(kind="preference", format="jsonl"):
        export = services.export_create(
            project=project, user=user, kind=kind, format=format, enqueue=False
        )
        services.export_execute(export_id=export.pk)
        export.refresh_from_db()
        return export

    return run


def test_reexport_to_s3_gives_identical_bytes(web, s3, project, run_export):
    corrected_annotation(project)
    first, second = run_export("all", "bundle"), run_export("all", "bundle")
    keys = s3.keys("exports/")
    assert keys == sorted([f"exports/{first.key}", f"exports/{second.key}"])
    bodies = [s3.client().get_object(Bucket=s3.bucket, Key=k)["Body"].read() for k in keys]
    assert bodies[0] == bodies[1]
    assert hashlib.sha256(bodies[0]).hexdigest() == first.sha256 == second.sha256
    assert first.size_bytes == len(bodies[0])


def test_failed_export_leaves_no_object(web, s3, project, user, monkeypatch):
    from reflectlab.exports import build

    corrected_annotation(project)

    def boom(self):
        raise RuntimeError("bucket on fire")

    monkeypatch.setattr(build.Progress, "flush", boom)
    export = services.export_create(
        project=project, user=user, kind="preference", format="jsonl", enqueue=False
    )
    services.export_execute(export_id=export.pk)
    export.refresh_from_db()
    assert export.state == "failed"
    assert "bucket on fire" in export.error
    assert s3.keys() == []
    assert _files_under(web / "work") == []


def test_an_upload_that_breaks_half_way_leaves_no_object(web, s3, project, user, monkeypatch):
    from storages.backends.s3 import S3Storage

    corrected_annotation(project)
    real_save = S3Storage._save

    def save_then_break(self, name, content):
        real_save(self, name, content)  # the object is there, then the connection drops
        raise ConnectionError("reset by peer")

    monkeypatch.setattr(S3Storage, "_save", save_then_break)
    export = services.export_create(
        project=project, user=user, kind="preference", format="jsonl", enqueue=False
    )
    services.export_execute(export_id=export.pk)
    export.refresh_from_db()
    assert export.state == "failed"
    assert s3.keys() == []


def test_cancelled_at_the_last_moment_keeps_no_object(web, s3, project, user, monkeypatch):
    from reflectlab.core import storage as storage_module
    from reflectlab.exports import services as export_services

    corrected_annotation(project)
    export = services.export_create(
        project=project, user=user, kind="preference", format="jsonl", enqueue=False
    )
    real_put = storage_module.storage_put

    def put_then_cancel(**kwargs):
        key = real_put(**kwargs)
        services.export_cancel(export=export)
        return key

    monkeypatch.setattr(export_services, "storage_put", put_then_cancel)
    services.export_execute(export_id=export.pk)
    export.refresh_from_db()
    assert export.state == "cancelled"
    assert s3.keys() == []


def test_download_is_members_only_and_streams(web, s3, client, project, run_export):
    corrected_annotation(project)
    export = run_export()
    url = reverse("exports:download", args=[project.pk, export.pk])
    outsider = UserFactory()
    MembershipFactory(user=outsider, role="manager")
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    member = UserFactory()
    MembershipFactory(user=member, project=project, role="reviewer")
    client.force_login(member)
    response = client.get(url)
    assert response.status_code == 200
    assert response.streaming
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == export.sha256


def test_presigned_redirect_only_after_the_permission_check(
    web, s3, client, project, run_export, settings
):
    settings.REFLECTLAB_S3_PRESIGNED_DOWNLOADS = True
    corrected_annotation(project)
    export = run_export()
    url = reverse("exports:download", args=[project.pk, export.pk])
    outsider = UserFactory()
    MembershipFactory(user=outsider, role="manager")
    client.force_login(outsider)
    refused = client.get(url)
    assert refused.status_code == 404
    assert "Location" not in refused
    member = UserFactory()
    MembershipFactory(user=member, project=project, role="reviewer")
    client.force_login(member)
    response = client.get(url)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(s3.endpoint)
    assert "Expires=" in location or "X-Amz-Expires=60" in location
    fetched = httpx.get(location)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == export.sha256
    assert "attachment" in fetched.headers.get("content-disposition", "")
