from __future__ import annotations

from reflectlab.projects.models import Role
from reflectlab.runs.models import Run, RunItem
from reflectlab.runs.tasks import run_execute_task
from tests.factories import MembershipFactory, PromptFactory


def test_create_run_from_the_page_enqueues_after_commit(
    logged_in, project, make_config, make_prompts, django_capture_on_commit_callbacks, monkeypatch
):
    config = make_config()
    make_prompts(["gsm 1", "gsm 2", "other"])
    sent = []
    monkeypatch.setattr(run_execute_task, "delay", lambda run_id: sent.append(run_id))
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(
            f"/projects/{project.pk}/runs/new",
            {"model_config": config.pk, "prompts": "filter", "q": "gsm", "samples_per_prompt": 2},
        )
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.pk}/"
    assert run.items_total == 4 and run.prompts.count() == 2 and sent == [run.pk]


def test_selection_with_unknown_ids_is_refused(logged_in, project, make_config):
    config = make_config()
    PromptFactory(project=project, external_id="known")
    response = logged_in.post(
        f"/projects/{project.pk}/runs/new",
        {"model_config": config.pk, "prompts": "selection", "selection": "known, nope",
         "samples_per_prompt": 1},
    )  # fmt: skip
    assert response.status_code == 200
    assert "Unknown prompt ids: nope" in response.content.decode()
    assert not Run.objects.exists()


def test_progress_partial_polls_until_terminal(logged_in, project, make_config):
    run = Run.objects.create(
        project=project, model_config=make_config(), items_total=10, items_done=4, items_failed=1,
        state=Run.State.RUNNING,
    )  # fmt: skip
    RunItem.objects.create(
        run=run, prompt=PromptFactory(project=project), sample_index=0, state="failed",
        error="HTTP 500: upstream model crashed (after 6 attempts)", attempts=6,
    )  # fmt: skip
    page = logged_in.get(f"/runs/{run.pk}/")
    assert 'hx-trigger="every 1s"' in page.content.decode()
    partial = logged_in.get(f"/runs/{run.pk}/", headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert partial.status_code == 200 and body.lstrip().startswith('<section id="run-status"')
    assert "upstream model crashed" in body and "50%" in body
    Run.objects.filter(pk=run.pk).update(state=Run.State.SUCCEEDED)
    done = logged_in.get(f"/runs/{run.pk}/", headers={"HX-Request": "true"})
    assert done.status_code == 286 and "every 1s" not in done.content.decode()


def test_cancel_from_the_page(logged_in, project, make_config):
    run = Run.objects.create(project=project, model_config=make_config(), items_total=3)
    response = logged_in.post(f"/runs/{run.pk}/cancel", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Cancelled" in response.content.decode()
    assert Run.objects.get(pk=run.pk).state == Run.State.CANCELLED


def test_annotators_see_runs_but_cannot_start_or_cancel(client, project, make_config, make_user):
    annotator = make_user()
    MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    client.force_login(annotator)
    run = Run.objects.create(project=project, model_config=make_config(), items_total=1)
    assert client.get(f"/projects/{project.pk}/runs/").status_code == 200
    assert "Cancel run" not in client.get(f"/runs/{run.pk}/").content.decode()
    assert client.post(f"/runs/{run.pk}/cancel").status_code == 403


def test_api_create_status_and_cancel(api, project, make_config, make_prompts, monkeypatch):
    monkeypatch.setattr(run_execute_task, "delay", lambda run_id: None)
    config = make_config()
    prompts = make_prompts(["a", "b", "c"])
    response = api.post(
        "/api/v1/runs/",
        {"project": project.pk, "model_config": config.pk, "prompts": "selection",
         "prompt_ids": [prompts[0].pk, prompts[2].pk], "samples_per_prompt": 3},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "queued" and body["items_total"] == 6
    status = api.get(f"/api/v1/runs/{body['id']}/").json()
    assert status["percent"] == 0 and status["errors"] == []
    assert api.post(f"/api/v1/runs/{body['id']}/cancel").json()["state"] == "cancelled"
    again = api.post(f"/api/v1/runs/{body['id']}/cancel")
    assert again.status_code == 409  # the one Conflict shape, the run as it is now
    assert again.json()["error"] == {
        "status": 409, "code": "conflict", "detail": f"Run {body['id']} has already finished."
    }  # fmt: skip
    assert again.json()["current"]["state"] == "cancelled"


def test_api_refuses_a_config_of_another_project(api, project, make_prompts):
    from reflectlab.providers.models import ModelConfig
    from tests.factories import ProjectFactory

    make_prompts(["a"])
    other = ModelConfig.objects.create(
        project=ProjectFactory(), name="x", base_url="http://h/v1", model="m"
    )
    response = api.post(
        "/api/v1/runs/", {"project": project.pk, "model_config": other.pk}, format="json"
    )
    assert response.status_code == 400
    assert "No such model config here." in response.content.decode()
