"""Annotation services, workspace endpoints and the API: versions, conflicts, submit, time."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from reflectlab.annotations import services
from reflectlab.annotations.models import Annotation
from reflectlab.review.claims import queue_next
from reflectlab.review.models import Claim
from reflectlab.runs.services import trace_continue
from reflectlab.runs.tasks import trace_continue_task
from reflectlab.traces.models import Trace
from tests.factories import MembershipFactory, TraceFactory, UserFactory


def form(version, **extra):
    data = {"version": version, "step_labels": "{}", "elapsed": 0}
    data.update(extra)
    return data


JSON = {"Accept": "application/json"}


@pytest.fixture
def annotation(trace, user):
    return services.annotation_get_or_create(trace=trace, user=user)


def test_save_is_compare_and_set_on_version(annotation, user):
    saved = services.annotation_save(
        annotation_id=annotation.pk, user=user, version=1, changes={"first_error_step": 1}
    )
    assert saved.version == 2 and saved.first_error_step == 1
    with pytest.raises(services.Conflict) as exc:
        services.annotation_save(
            annotation_id=annotation.pk, user=user, version=1, changes={"first_error_step": 0}
        )
    assert exc.value.current.version == 2 and exc.value.current.first_error_step == 1


def test_only_the_annotator_saves_and_submits(annotation, project):
    other = UserFactory()
    MembershipFactory(project=project, user=other, role="manager")
    with pytest.raises(PermissionDenied):
        services.annotation_save(annotation_id=annotation.pk, user=other, version=1, changes={})
    with pytest.raises(PermissionDenied):
        services.annotation_submit(annotation_id=annotation.pk, user=other)


def test_save_rejects_values_outside_the_trace_and_project(annotation, user):
    for changes in (
        {"step_labels": {"99": 1}},
        {"step_labels": {"0": 5}},
        {"first_error_step": 99},
        {"error_category": "not a category"},
        {"violated_principles": ["made up"]},
        {"state": "accepted"},
    ):
        with pytest.raises(ValidationError):
            services.annotation_save(
                annotation_id=annotation.pk, user=user, version=1, changes=changes
            )


def test_submit_needs_a_first_error_answer_and_happens_once(annotation, user):
    with pytest.raises(ValidationError):
        services.annotation_submit(annotation_id=annotation.pk, user=user)
    services.annotation_save(
        annotation_id=annotation.pk, user=user, version=1, changes={"first_error_step": -1}
    )
    submitted = services.annotation_submit(annotation_id=annotation.pk, user=user)
    assert submitted.state == "submitted" and submitted.submitted_at and submitted.has_no_error
    with pytest.raises(ValidationError):
        services.annotation_submit(annotation_id=annotation.pk, user=user)
    with pytest.raises(ValidationError):  # no longer a draft: read only
        services.annotation_save(
            annotation_id=annotation.pk, user=user, version=submitted.version, changes={}
        )


def test_time_spent_accumulates_and_is_capped(annotation, user):
    a = services.annotation_save(
        annotation_id=annotation.pk, user=user, version=1, changes={}, elapsed_seconds=40
    )
    a = services.annotation_save(
        annotation_id=annotation.pk, user=user, version=2, changes={}, elapsed_seconds=10**6
    )
    assert a.time_spent_seconds == 40 + services.MAX_ELAPSED_PER_SAVE


def test_submit_and_next_takes_the_next_trace_from_the_queue(client, project, trace):
    annotator = UserFactory()
    MembershipFactory(project=project, user=annotator, role="annotator")
    done_before = TraceFactory(project=project)
    Annotation.objects.create(
        project=project, trace=done_before, annotator=annotator, state="submitted"
    )
    TraceFactory(project=project, prompt=trace.prompt, parent=trace, origin="regeneration")
    nxt = TraceFactory(project=project)
    assert queue_next(project=project, user=annotator).trace_id == trace.pk
    client.force_login(annotator)
    response = client.post(
        reverse("annotations:submit", args=[trace.pk]), form(1, first_error_step=1)
    )
    # Not the submitted trace, nor the branch: the queue's next claim.
    assert response["Location"] == reverse("traces:detail", args=[nxt.pk])
    held = Claim.objects.get(user=annotator, state="active")
    assert held.trace_id == nxt.pk
    assert Claim.objects.get(user=annotator, trace=trace).state == "done"


def test_submit_and_next_says_when_the_queue_has_nothing_left(logged_in, trace, project):
    response = logged_in.post(
        reverse("annotations:submit", args=[trace.pk]), form(1, first_error_step=-1), follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("traces:list", args=[project.pk])
    assert "Nothing left to annotate" in response.content.decode()


def test_save_view_saves_and_counts_time(logged_in, trace):
    url = reverse("annotations:save", args=[trace.pk])
    response = logged_in.post(
        url, form(1, step_labels=json.dumps({"0": 1}), elapsed=12, critique="ok"), headers=JSON
    )
    assert response.status_code == 200
    state = response.json()["annotation"]
    assert state["version"] == 2 and state["step_labels"] == {"0": 1}
    assert state["time_spent_seconds"] == 12 and state["critique"] == "ok"


def test_stale_save_is_409_with_server_state_and_changes_nothing(logged_in, trace):
    url = reverse("annotations:save", args=[trace.pk])
    logged_in.post(url, form(1, critique="theirs"), headers=JSON)
    stale = logged_in.post(url, form(1, critique="mine"), headers=JSON)
    assert stale.status_code == 409
    assert stale.json()["current"]["critique"] == "theirs"
    assert stale.json()["current"]["version"] == 2
    assert Annotation.objects.get(trace=trace).critique == "theirs"
    # overwrite with mine = save again on the version the conflict reported
    again = logged_in.post(url, form(2, critique="mine"), headers=JSON)
    assert again.status_code == 200 and Annotation.objects.get(trace=trace).critique == "mine"


def test_stale_save_without_javascript_keeps_my_input_on_the_page(logged_in, trace):
    url = reverse("annotations:save", args=[trace.pk])
    logged_in.post(url, form(1, critique="theirs"), headers=JSON)
    page = logged_in.post(url, form(1, critique="my careful words"))
    assert page.status_code == 409
    html = page.content.decode()
    assert "my careful words" in html and "Someone saved this annotation first" in html


def test_submit_view_opens_the_next_trace(logged_in, trace, project, user):
    nxt = TraceFactory(project=project)
    response = logged_in.post(
        reverse("annotations:submit", args=[trace.pk]), form(1, first_error_step=1, elapsed=5)
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("traces:detail", args=[nxt.pk])
    annotation = Annotation.objects.get(trace=trace, annotator=user)
    assert annotation.state == "submitted" and annotation.time_spent_seconds == 5


def test_submit_without_first_error_stays_a_draft(logged_in, trace, user):
    response = logged_in.post(reverse("annotations:submit", args=[trace.pk]), form(1))
    assert response.status_code == 302
    assert response["Location"] == reverse("traces:detail", args=[trace.pk])
    assert Annotation.objects.get(trace=trace, annotator=user).state == "draft"


def test_outsider_cannot_save(client, trace):
    client.force_login(UserFactory())
    response = client.post(reverse("annotations:save", args=[trace.pk]), form(1), headers=JSON)
    assert response.status_code == 404
    assert not Annotation.objects.exists()


def test_regenerate_links_branch_and_returns_polling_partial(
    logged_in, trace, user, model_config, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(trace_continue_task, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks() as callbacks:
        response = logged_in.post(
            reverse("annotations:regenerate", args=[trace.pk]),
            {"version": 1, "hint_step": 1, "hint": "Check the sum."},
            headers={"HX-Request": "true"},
        )
    assert response.status_code == 200, response.content
    branch = Trace.objects.get(parent=trace)
    html = response.content.decode()
    assert f'id="branch-{branch.pk}"' in html and 'hx-trigger="every 1s"' in html
    annotation = Annotation.objects.get(trace=trace, annotator=user)
    assert annotation.branch == branch and annotation.hint_step == 1
    assert response["X-Annotation-Version"] == str(annotation.version)
    assert branch.hint == "Check the sum." and branch.branch_step == 1
    assert branch.state == Trace.State.PENDING  # the request never waits on the model

    # The generation is enqueued after commit, not run in the request.
    assert len(callbacks) == 1 and sent == []
    callbacks[0]()
    assert sent == [(branch.pk, model_config.pk)]

    # The worker's side, outside the request, against a real HTTP model server.
    trace_continue(branch_id=branch.pk, config_id=model_config.pk)
    url = reverse("traces:branch", args=[trace.pk, branch.pk])
    ready = logged_in.get(url, headers={"HX-Request": "true"})
    assert ready.status_code == 286
    assert '<mark class="hint"' in ready.content.decode()
    assert "final answer right" in ready.content.decode()


def test_regenerate_without_hint_is_400(logged_in, trace):
    response = logged_in.post(
        reverse("annotations:regenerate", args=[trace.pk]), {"version": 1, "hint_step": 1}
    )
    assert response.status_code == 400


def test_api_create_get_and_patch_with_versions(api, trace):
    created = api.post(reverse("api-annotations"), {"trace": trace.pk}, format="json")
    assert created.status_code == 201
    again = api.post(reverse("api-annotations"), {"trace": trace.pk}, format="json")
    assert again.status_code == 200 and again.data["id"] == created.data["id"]
    url = reverse("api-annotation", args=[created.data["id"]])
    ok = api.patch(
        url, {"version": 1, "step_labels": {"0": 1}, "verdict": "correct"}, format="json"
    )
    assert ok.status_code == 200 and ok.data["version"] == 2
    stale = api.patch(url, {"version": 1, "verdict": "incorrect"}, format="json")
    assert stale.status_code == 409 and stale.data["current"]["verdict"] == "correct"
    listed = api.get(reverse("api-annotations"), {"trace": trace.pk, "state": "draft"})
    assert listed.status_code == 200 and listed.data["count"] == 1
    assert api.get(reverse("api-annotations"), {"state": "bogus"}).status_code == 400


def test_api_create_for_another_projects_trace_is_404(trace):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(UserFactory())
    response = client.post(reverse("api-annotations"), {"trace": trace.pk}, format="json")
    assert response.status_code == 404 and not Annotation.objects.exists()


def test_api_annotators_see_only_their_own(trace, project, user):
    from rest_framework.test import APIClient

    mine = services.annotation_get_or_create(trace=trace, user=user)
    peer = UserFactory()
    MembershipFactory(project=project, user=peer, role="annotator")
    client = APIClient()
    client.force_authenticate(peer)
    assert client.get(reverse("api-annotation", args=[mine.pk])).status_code == 403
    assert client.get(reverse("api-annotations")).data["count"] == 0
    assert (
        client.patch(
            reverse("api-annotation", args=[mine.pk]), {"version": 1}, format="json"
        ).status_code
        == 403
    )


def test_api_submit_moves_a_draft_to_review_and_refuses_a_stale_version(api, trace, user):
    created = api.post("/api/v1/annotations/", {"trace": trace.pk}, format="json").json()
    url = f"/api/v1/annotations/{created['id']}/"
    saved = api.patch(url, {"version": created["version"], "first_error_step": -1}, format="json")
    assert saved.status_code == 200
    stale = api.post(f"{url}submit", {"version": created["version"]}, format="json")
    assert stale.status_code == 409
    done = api.post(f"{url}submit", {"version": saved.json()["version"]}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "submitted"
    assert api.post(f"{url}submit", {}, format="json").status_code == 400


def test_api_submit_is_for_the_annotator_only(api, trace, project):
    other = UserFactory()
    MembershipFactory(project=project, user=other, role="annotator")
    theirs = Annotation.objects.create(
        project=project, trace=trace, annotator=other, first_error_step=-1
    )
    assert api.post(f"/api/v1/annotations/{theirs.pk}/submit", {}, format="json").status_code == 403


def test_api_annotators_annotate_only_what_the_queue_gave_them(project, trace):
    from rest_framework.test import APIClient

    project.overlap = 1
    project.save()
    first, second = UserFactory(), UserFactory()
    for annotator in (first, second):
        MembershipFactory(project=project, user=annotator, role="annotator")
    apis = {}
    for annotator in (first, second):
        apis[annotator] = APIClient()
        apis[annotator].force_authenticate(annotator)
    # Outside the queue, an annotator may not start one: not even on a free trace.
    refused = apis[first].post(reverse("api-annotations"), {"trace": trace.pk}, format="json")
    assert refused.status_code == 403
    assert "take your next trace from the queue" in refused.json()["error"]["detail"]
    assert not Annotation.objects.exists()
    assert queue_next(project=project, user=first).trace_id == trace.pk
    taken = apis[first].post(reverse("api-annotations"), {"trace": trace.pk}, format="json")
    assert taken.status_code == 201
    # The project wants one annotator per trace: a second one past the overlap is refused.
    assert queue_next(project=project, user=second) is None
    past = apis[second].post(reverse("api-annotations"), {"trace": trace.pk}, format="json")
    assert past.status_code == 403 and Annotation.objects.count() == 1
    # The workspace's save goes through the same rule.
    client = Client()
    client.force_login(second)
    page = client.post(reverse("annotations:save", args=[trace.pk]), form(1), headers=JSON)
    assert page.status_code == 403 and Annotation.objects.count() == 1


def test_api_reviewers_may_annotate_any_trace_of_their_project(project, trace):
    from rest_framework.test import APIClient

    reviewer = UserFactory()
    MembershipFactory(project=project, user=reviewer, role="reviewer")
    client = APIClient()
    client.force_authenticate(reviewer)
    response = client.post(reverse("api-annotations"), {"trace": trace.pk}, format="json")
    assert response.status_code == 201
