"""Batch generation: OpenAI Batch JSONL out, the results file back in, and a remote batch API."""

from __future__ import annotations

import orjson
import pytest

from reflectlab.providers.openai_http import OpenAIHttpProvider
from reflectlab.providers.registry import sampling_for
from reflectlab.providers.testing_batch import FakeBatchServer
from reflectlab.runs import batch, batch_remote, services
from reflectlab.runs.models import Run, RunItem
from reflectlab.traces.models import Trace


@pytest.fixture
def batch_run(project, user, make_config, make_prompts):
    def make(texts=("What is 2 + 3?", "FAULT:500 What is 1 + 1?"), samples=2, **config):
        make_prompts(list(texts))
        return services.run_create(
            project=project,
            model_config=make_config(**config),
            user=user,
            samples_per_prompt=samples,
            mode=Run.Mode.BATCH,
        )

    return make


def _lines(run):
    return [orjson.loads(line) for line in batch.run_batch_requests(run=run)]


def _results(request_lines):
    fake = FakeBatchServer()
    return [orjson.dumps(fake._answer(line)) for line in reversed(request_lines)]


def test_requests_are_openai_batch_lines_with_the_live_body(batch_run):
    run = batch_run(samples=2)
    lines = _lines(run)
    assert len(lines) == 4
    assert {tuple(sorted(line)) for line in lines} == {("body", "custom_id", "method", "url")}
    assert {line["url"] for line in lines} == {"/v1/chat/completions"}
    assert len({line["custom_id"] for line in lines}) == 4
    run.refresh_from_db()
    assert run.state == Run.State.RUNNING
    live = OpenAIHttpProvider(base_url="http://unused/v1")._chat_body(
        sampling_for(run.model_config), lines[0]["body"]["messages"]
    )
    assert lines[0]["body"] == live


def test_results_import_matches_custom_ids_and_is_idempotent(batch_run):
    run = batch_run(samples=2)
    requests = _lines(run)
    results = [*_results(requests), b"not json", b'{"custom_id": "run-999-prompt-1-sample-0"}']
    report = batch.run_batch_import(run=run, lines=results)
    assert report["rows_written"] == 2
    assert report["rows_failed"] == 2  # the FAULT:500 prompt's two samples
    assert report["rows_rejected"] == 2
    assert [e["line"] for e in report["errors"]] == [5, 6]
    run.refresh_from_db()
    assert (run.items_done, run.items_failed) == (2, 2)
    assert run.state == Run.State.SUCCEEDED
    traces = Trace.objects.filter(run=run)
    assert traces.count() == 2
    assert all(t.analysis["steps"] for t in traces)  # analysed on arrival
    failed = RunItem.objects.filter(run=run, state=RunItem.State.FAILED)
    assert all("HTTP 500: upstream model crashed" in i.error for i in failed)

    again = batch.run_batch_import(run=run, lines=results)
    assert again["rows_written"] == 0
    assert Trace.objects.filter(run=run).count() == 2
    run.refresh_from_db()
    assert (run.items_done, run.items_failed) == (2, 2)


def test_a_later_file_can_bring_a_failed_item_its_answer(batch_run):
    run = batch_run(texts=("FAULT:500 What is 1 + 1?",), samples=1)
    requests = _lines(run)
    batch.run_batch_import(run=run, lines=_results(requests))
    run.refresh_from_db()
    assert (run.items_done, run.items_failed, run.state) == (0, 1, Run.State.FAILED)
    good = FakeBatchServer()._answer({**requests[0], "body": {"messages": []}})
    report = batch.run_batch_import(run=run, lines=[orjson.dumps(good)])
    assert report["rows_written"] == 1
    run.refresh_from_db()
    assert (run.items_done, run.items_failed, run.state) == (1, 0, Run.State.SUCCEEDED)


def test_workers_never_execute_a_batch_run(batch_run, fake_server):
    run = batch_run()
    assert services.runs_resume() == 0
    services.run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.state == Run.State.QUEUED
    assert fake_server.requests == []


def test_a_live_run_takes_no_batch_file(project, user, make_config, make_prompts):
    make_prompts(["What is 2 + 3?"])
    run = services.run_create(project=project, model_config=make_config(), user=user, enqueue=False)
    with pytest.raises(ValueError, match="batch run"):
        batch.run_batch_import(run=run, lines=[])


def test_submit_and_poll_against_a_batch_server(batch_run, monkeypatch):
    monkeypatch.setenv("REFLECTLAB_KEY_BATCH", "sk-batch-test")
    with FakeBatchServer(polls_to_finish=2) as server:
        run = batch_run(
            texts=("What is 2 + 3?", "FAULT:error What is 1 + 1?"),
            samples=1,
            base_url=server.base_url,
            api_key_env="REFLECTLAB_KEY_BATCH",
        )
        run = batch_remote.run_batch_submit(run_id=run.pk)
        assert run.batch_id.startswith("batch-")
        assert batch_remote.run_batch_submit(run_id=run.pk).batch_id == run.batch_id  # once
        assert len(server.batches) == 1
        assert batch_remote.run_batch_poll(run_id=run.pk) == "in_progress"
        assert Trace.objects.filter(run=run).count() == 0
        assert batch_remote.run_batch_poll(run_id=run.pk) == "completed"
        assert set(server.auth) == {"Bearer sk-batch-test"}
    run.refresh_from_db()
    assert (run.items_done, run.items_failed, run.state) == (1, 1, Run.State.SUCCEEDED)
    assert run.batch_status == "completed"
    failed = RunItem.objects.get(run=run, state=RunItem.State.FAILED)
    assert failed.error == "prompt rejected"


def test_a_batch_missing_lines_fails_those_items(batch_run, monkeypatch):
    with FakeBatchServer(polls_to_finish=1) as server:
        run = batch_run(
            texts=("What is 2 + 3?", "What is 4 + 4?"), samples=1, base_url=server.base_url
        )
        batch_remote.run_batch_submit(run_id=run.pk)
        (file_id,) = list(server.files)
        first_line = server.files[file_id].splitlines()[0] + b"\n"
        server.files[file_id] = first_line  # the server "loses" one request
        assert batch_remote.run_batch_poll(run_id=run.pk) == "completed"
    run.refresh_from_db()
    assert (run.items_done, run.items_failed) == (1, 1)
    assert RunItem.objects.get(run=run, state=RunItem.State.FAILED).error.startswith("No result")


# -- the interfaces: API, run page, management command ---------------------------


def test_api_round_trip_and_managers_only(batch_run, api, project, make_user):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse
    from rest_framework.test import APIClient

    from tests.factories import MembershipFactory

    run = batch_run(texts=("What is 2 + 3?",), samples=2)
    assert api.get(reverse("api-run", args=[run.pk])).json()["mode"] == "batch"
    response = api.get(reverse("api-run-batch-requests", args=[run.pk]))
    assert response.status_code == 200
    requests = [orjson.loads(x) for x in b"".join(response.streaming_content).splitlines()]
    assert len(requests) == 2
    results = b"\n".join(_results(requests))
    url = reverse("api-run-batch-results", args=[run.pk])
    upload = SimpleUploadedFile("results.jsonl", results)
    response = api.post(url, {"file": upload}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["rows_written"] == 2
    again = api.post(url, {"file": SimpleUploadedFile("r.jsonl", results)}, format="multipart")
    assert again.json()["rows_written"] == 0
    assert Trace.objects.filter(run=run).count() == 2

    annotator = make_user()
    MembershipFactory(project=project, user=annotator, role="annotator")
    other = APIClient()
    other.force_authenticate(annotator)
    assert other.get(reverse("api-run-batch-requests", args=[run.pk])).status_code == 403
    outsider = make_user()
    MembershipFactory(user=outsider, role="manager")
    other.force_authenticate(outsider)
    assert other.get(reverse("api-run-batch-requests", args=[run.pk])).status_code == 404


def test_api_creates_batch_runs_and_submit_enqueues_on_commit(
    api, project, make_config, make_prompts, django_capture_on_commit_callbacks
):
    from unittest import mock

    from django.urls import reverse

    make_prompts(["What is 2 + 3?"])
    config = make_config()
    with (
        mock.patch("reflectlab.runs.tasks.run_execute_task.delay") as live,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api.post(
            reverse("api-runs"),
            {"project": project.pk, "model_config": config.pk, "mode": "batch"},
            format="json",
        )
    assert response.status_code == 201, response.content
    live.assert_not_called()
    run_id = response.json()["id"]
    with (
        mock.patch("reflectlab.runs.tasks.run_batch_submit_task.delay") as submit,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert api.post(reverse("api-run-batch-submit", args=[run_id])).status_code == 202
    submit.assert_called_once_with(run_id)
    Run.objects.filter(pk=run_id).update(batch_id="batch-1")
    again = api.post(reverse("api-run-batch-submit", args=[run_id]))
    assert again.status_code == 409
    assert again.json() == {"error": {"status": 409, "code": "conflict",
                                      "detail": "This run was already submitted or has finished."}}  # fmt: skip


def test_run_page_shows_the_batch_panel_and_imports_a_file(batch_run, logged_in):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    run = batch_run(texts=("What is 2 + 3?",), samples=1)
    page = logged_in.get(reverse("runs:detail", args=[run.pk])).content.decode()
    assert reverse("runs:batch-requests", args=[run.pk]) in page
    assert reverse("runs:batch-results", args=[run.pk]) in page
    requests = [
        orjson.loads(x)
        for x in b"".join(
            logged_in.get(reverse("runs:batch-requests", args=[run.pk])).streaming_content
        ).splitlines()
    ]
    upload = SimpleUploadedFile("results.jsonl", b"\n".join(_results(requests)))
    response = logged_in.post(
        reverse("runs:batch-results", args=[run.pk]), {"file": upload}, follow=True
    )
    assert "1 traces written" in response.content.decode()
    run.refresh_from_db()
    assert run.state == Run.State.SUCCEEDED


def test_large_results_files_import_on_a_worker_from_the_uploads_storage(
    batch_run, settings, tmp_path, django_capture_on_commit_callbacks
):
    from unittest import mock

    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.REFLECTLAB_SYNC_IMPORT_MAX_BYTES = 0
    run = batch_run(texts=("What is 2 + 3?",), samples=1)
    results = b"\n".join(_results(_lines(run)))
    with (
        mock.patch("reflectlab.runs.tasks.run_batch_import_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        report = batch.run_batch_results_accept(
            run=run, upload=SimpleUploadedFile("r.jsonl", results)
        )
    assert report is None
    (run_id, key), _ = delay.call_args
    assert run_id == run.pk
    report = batch.run_batch_import_stored(run_id=run.pk, key=key)
    assert report["rows_written"] == 1
    assert not list((tmp_path / "media").rglob("*.jsonl"))  # the stored copy is removed


def test_management_command_round_trip(batch_run, tmp_path, make_config, project):
    from django.core.management import call_command

    run = batch_run(texts=("What is 2 + 3?", "What is 4 + 4?"), samples=1)
    out = tmp_path / "requests.jsonl"
    call_command("run_batch", "requests", str(run.pk), "-o", str(out))
    requests = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert len(requests) == 2
    results = tmp_path / "results.jsonl"
    results.write_bytes(b"\n".join(_results(requests)) + b"\n")
    call_command("run_batch", "import", str(run.pk), str(results))
    call_command("run_batch", "import", str(run.pk), str(results))
    run.refresh_from_db()
    assert (run.items_done, run.state) == (2, Run.State.SUCCEEDED)
    assert Trace.objects.filter(run=run).count() == 2
