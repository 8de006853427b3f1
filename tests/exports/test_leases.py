"""Long jobs: compare-and-set claims with leases, resumption at worker start,
abandoned temporary folders, transient database errors, broker redelivery."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import OperationalError
from django.utils import timezone

from reflectlab.core.jobs import job_claim
from reflectlab.exports import build, recovery, services
from reflectlab.exports.models import WORK_PREFIX, Export
from reflectlab.exports.tasks import export_task
from reflectlab.prompts import services as prompt_services
from reflectlab.prompts.models import ImportJob, Prompt
from tests.exports.factories import AnnotationFactory, corrected_annotation
from tests.factories import TraceFactory

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def work_dir() -> Path:
    """Where exports are built before they go into storage (REFLECTLAB_WORK_DIR)."""
    return Path(settings.REFLECTLAB_WORK_DIR)


@pytest.fixture
def data(project):
    for _ in range(2):
        corrected_annotation(project)
    AnnotationFactory(trace=TraceFactory(project=project), project=project, verdict="correct")


@pytest.fixture
def queued(project, user):
    return services.export_create(
        project=project, user=user, kind="preference", format="jsonl", enqueue=False
    )


def _held_by(export, holder: str, *, seconds: float) -> None:
    Export.objects.filter(pk=export.pk).update(
        state=Export.State.RUNNING,
        holder=holder,
        lease_until=timezone.now() + timedelta(seconds=seconds),
    )


@pytest.mark.django_db
def test_an_export_another_worker_is_writing_is_not_rebuilt(data, queued):
    """A redelivered task used to claim a RUNNING export and write it a second time."""
    _held_by(queued, "other-host:1:abc", seconds=600)
    services.export_execute(export_id=queued.pk)
    queued.refresh_from_db()
    assert (queued.state, queued.holder, queued.file_name) == ("running", "other-host:1:abc", "")
    assert not queued.directory.exists() or not any(queued.directory.iterdir())


@pytest.mark.django_db
def test_an_export_whose_lease_lapsed_is_taken_over(data, queued):
    _held_by(queued, "dead-host:1:abc", seconds=-1)
    services.export_execute(export_id=queued.pk)
    queued.refresh_from_db()
    assert queued.state == "succeeded" and queued.path.is_file()
    assert (queued.holder, queued.lease_until) == ("", None)


@pytest.mark.django_db
def test_claims_are_compare_and_set(queued):
    assert job_claim(model=Export, pk=queued.pk, holder="a")
    assert not job_claim(model=Export, pk=queued.pk, holder="b")  # a's lease is live
    Export.objects.filter(pk=queued.pk).update(state=Export.State.SUCCEEDED)
    assert not job_claim(model=Export, pk=queued.pk, holder="b")


@pytest.mark.django_db
def test_a_worker_that_lost_its_lease_stops_and_writes_nothing(data, queued, monkeypatch):
    original = build.Progress.flush

    def taken_over_then_flush(self):
        Export.objects.filter(pk=self.export_id).update(holder="newcomer:2:def")
        original(self)

    monkeypatch.setattr(build, "PROGRESS_EVERY", 1)
    monkeypatch.setattr(build, "PROGRESS_SECONDS", 0)
    monkeypatch.setattr(build.Progress, "flush", taken_over_then_flush)
    services.export_execute(export_id=queued.pk)
    queued.refresh_from_db()
    assert (queued.state, queued.holder, queued.file_name) == ("running", "newcomer:2:def", "")
    assert list(work_dir().glob(f"{WORK_PREFIX}{queued.pk}-*")) == []


@pytest.mark.django_db
def test_a_transient_database_error_retries_the_task_and_cleans_up(data, queued, monkeypatch):
    def db_gone(*, export, work, **kwargs):
        (work / "partial.jsonl").write_text("{}")
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(services, "export_build", db_gone)
    retried = []

    def retry(**kwargs):
        retried.append(kwargs)
        return RuntimeError("retry")

    monkeypatch.setattr(export_task, "retry", retry)
    with pytest.raises(RuntimeError, match="retry"):
        export_task.run(queued.pk)
    queued.refresh_from_db()
    assert queued.state == "running" and not queued.error  # not failed: tried again later
    assert retried and retried[0]["countdown"] >= 60  # after the lapsed lease
    assert list(work_dir().glob(f"{WORK_PREFIX}{queued.pk}-*")) == []


@pytest.mark.django_db
def test_abandoned_temporary_folders_are_removed_and_live_ones_kept(queued, project, user):
    other = services.export_create(
        project=project, user=user, kind="preference", format="jsonl", enqueue=False
    )
    _held_by(queued, "dead:1:x", seconds=-5)
    _held_by(other, "alive:1:y", seconds=600)
    old = time.time() - 3600
    abandoned = work_dir() / f"{WORK_PREFIX}{queued.pk}-dead"
    live = work_dir() / f"{WORK_PREFIX}{other.pk}-live"
    for folder in (abandoned, live):
        folder.mkdir(parents=True)
        (folder / "part").write_text("x")
        os.utime(folder, (old, old))

    assert recovery.exports_recover() == [queued.pk]  # the lapsed one, not the live one
    assert not abandoned.exists() and live.exists()


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_resumes_jobs_a_killed_worker_left_behind(
    celery_worker_process, data, project, user, tmp_path
):
    """The state a SIGKILLed worker leaves: running, 0 %, a lapsed lease, a work folder."""
    export = services.export_create(
        project=project, user=user, kind="preference", format="jsonl", enqueue=False
    )
    _held_by(export, "gone-host:4242:abc", seconds=-1)
    tmp = work_dir() / f"{WORK_PREFIX}{export.pk}-abandoned"
    tmp.mkdir(parents=True)
    os.utime(tmp, (time.time() - 3600, time.time() - 3600))
    job = ImportJob.objects.create(
        project=project, kind="prompts", bytes_total=40, state=ImportJob.State.RUNNING,
        holder="gone-host:4242:def", lease_until=timezone.now() - timedelta(seconds=1),
    )  # fmt: skip
    job.file.save("resume.jsonl", ContentFile(b'{"id": "r1", "prompt": "Resume me?"}\n'))

    # celery_worker_process started before these rows existed: a second start
    # (any worker start) must pick them up.
    env = {**os.environ, "DATABASE_URL": _database_url(), "DEBUG": "0"}
    log = (tmp_path / "resume-worker.log").open("w")
    second = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "reflectlab", "worker", "-Q", "default,models",
         "-P", "solo", "-l", "info", "--without-mingle", "--without-gossip", "--without-heartbeat",
         "-n", "resume@%h"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    try:
        wait_for(lambda: Export.objects.get(pk=export.pk).is_terminal, 120, "the export")
        wait_for(lambda: ImportJob.objects.get(pk=job.pk).is_terminal, 60, "the import")
    finally:
        second.terminate()
        second.wait(20)
        log.close()
    export.refresh_from_db()
    assert export.state == "succeeded" and export.path.is_file()
    assert not tmp.exists()
    assert ImportJob.objects.get(pk=job.pk).state == "succeeded"
    assert Prompt.objects.filter(project=project, external_id="r1").exists()


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


PROBE = """
import os
os.environ.update(CELERY_BROKER_URL="redis://127.0.0.1:6379/15", DEBUG="1",
                  DJANGO_SETTINGS_MODULE="reflectlab.settings")
import django
django.setup()
from django.conf import settings
from reflectlab.celery import app
app.loader.import_default_modules()
limits = [t.time_limit or 0 for n, t in app.tasks.items() if n.startswith("reflectlab.")]
print(settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"], max(limits))
"""


def test_redis_never_redelivers_a_task_that_is_still_within_its_time_limit():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    visibility, longest = float(out[0]), float(out[1])
    assert visibility > longest


def test_import_jobs_are_claimed_compare_and_set(db, project):
    job = ImportJob.objects.create(project=project, kind="prompts", state="running",
                                   holder="alive:1:x",
                                   lease_until=timezone.now() + timedelta(seconds=600))  # fmt: skip
    prompt_services.import_job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert (job.state, job.holder) == ("running", "alive:1:x")
    assert prompt_services.import_jobs_recover() == []
    ImportJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert prompt_services.import_jobs_recover() == [job.pk]
