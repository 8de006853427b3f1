from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from reflectlab.annotations.models import Annotation
from reflectlab.review.claims import queue_next
from reflectlab.review.models import Claim, GoldItem, QueueItem, Review
from tests.review.conftest import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotator(member):
    return member(username="ann")


@pytest.fixture
def as_annotator(client, annotator):
    client.force_login(annotator)
    return client


@pytest.fixture
def api_for():
    def make(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


def test_queue_page_shows_counts_and_start_button(as_annotator, project, traces):
    traces(3)
    response = as_annotator.get(reverse("review:queue", args=[project.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Start annotating" in body and "traces in queue" in body
    assert "Save policy" not in body  # managers only


def test_queue_counts_refresh_as_an_htmx_partial(as_annotator, project, traces):
    traces(2)
    response = as_annotator.get(
        reverse("review:queue", args=[project.pk]),
        headers={"HX-Request": "true", "HX-Target": "queue-counts"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="queue-counts"') and "<html" not in body


def test_manager_sees_policy_pins_and_gold(logged_in, project, traces):
    traces(2)
    body = logged_in.get(reverse("review:queue", args=[project.pk])).content.decode()
    assert "Save policy" in body and "Add gold item" in body and "Next up" in body


def test_next_claims_and_opens_the_trace(as_annotator, project, traces, annotator):
    (trace,) = traces(1)
    response = as_annotator.post(reverse("review:next", args=[project.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("traces:detail", args=[trace.pk])
    assert Claim.objects.get().user == annotator


def test_next_on_an_empty_queue_says_so(as_annotator, project):
    response = as_annotator.post(reverse("review:next", args=[project.pk]))
    assert response.status_code == 200 and "Queue empty" in response.content.decode()


def test_next_is_post_only(as_annotator, project):
    assert as_annotator.get(reverse("review:next", args=[project.pk])).status_code == 405


def test_heartbeat_renews_and_stops_polling_once_lost(as_annotator, project, traces):
    traces(1)
    as_annotator.post(reverse("review:next", args=[project.pk]))
    claim = Claim.objects.get()
    url = reverse("review:claim-heartbeat", args=[claim.pk])
    response = as_annotator.post(url, headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'hx-trigger="every 60s"' in response.content.decode()
    Claim.objects.filter(pk=claim.pk).update(state="expired")
    response = as_annotator.post(url, headers={"HX-Request": "true"})
    assert response.status_code == 286 and "expired" in response.content.decode()


def test_skip_releases_and_claims_the_next(as_annotator, project, traces):
    _first, second = traces(2)
    as_annotator.post(reverse("review:next", args=[project.pk]))
    claim = Claim.objects.get()
    response = as_annotator.post(reverse("review:claim-release", args=[claim.pk]), {"then": "next"})
    assert response["Location"] == reverse("traces:detail", args=[second.pk])
    claim.refresh_from_db()
    assert claim.state == "released"


def test_another_annotator_cannot_release_my_claim(client, project, traces, member, annotator):
    traces(1)
    claim = queue_next(project=project, user=annotator)
    client.force_login(member())
    assert client.post(reverse("review:claim-release", args=[claim.pk])).status_code == 403


def test_policy_form_saves_and_reranks(logged_in, project, traces):
    traces(2)
    response = logged_in.post(
        reverse("review:policy", args=[project.pk]),
        {"order_1": "reflection_desc", "correctness": "any", "gold_rate": "0.2"},
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.queue_policy["order"] == ["reflection_desc"]
    assert project.queue_policy["gold_rate"] == 0.2
    bad = logged_in.post(
        reverse("review:policy", args=[project.pk]),
        {"order_1": "wrong_first", "order_2": "wrong_first", "correctness": "any", "gold_rate": 1},
    )
    assert bad.status_code == 400 and "once" in bad.content.decode()


def test_pin_and_gold_forms(logged_in, project, traces):
    a, b = traces(2)
    logged_in.post(reverse("review:pin", args=[project.pk]), {"trace_id": b.pk, "pinned": "1"})
    assert QueueItem.objects.get(trace=b).pinned
    response = logged_in.post(
        reverse("review:gold-add", args=[project.pk]),
        {"trace_id": a.pk, "expected_first_error_step": "2", "expected_verdict": "incorrect"},
    )
    assert response.status_code == 302
    gold = GoldItem.objects.get()
    assert QueueItem.objects.get(trace=a).is_gold
    logged_in.post(reverse("review:gold-remove", args=[project.pk, gold.pk]))
    assert not GoldItem.objects.exists() and not QueueItem.objects.get(trace=a).is_gold
    missing = logged_in.post(reverse("review:pin", args=[project.pk]), {"trace_id": 999999})
    assert missing.status_code == 400


def test_my_work_lists_rejections_with_the_comment(as_annotator, project, traces, annotator):
    (trace,) = traces(1)
    annotation = submit(trace, annotator, state=Annotation.State.REJECTED)
    reviewer = Annotation.objects.model.annotator.field.related_model.objects.create(username="rev")
    Review.objects.create(
        project=project,
        annotation=annotation,
        reviewer=reviewer,
        decision="reject",
        comment="Look again at <step 3>",
        original={},
        annotation_version=1,
    )
    body = as_annotator.get(reverse("review:my-work", args=[project.pk])).content.decode()
    assert "Returned to you" in body and "Look again at &lt;step 3&gt;" in body


def test_inbox_review_next_and_accept(client, project, traces, member):
    (trace,) = traces(1)
    annotation = submit(trace, member(username="ann2"))
    reviewer = member("reviewer")
    client.force_login(reviewer)
    body = client.get(reverse("review:inbox", args=[project.pk])).content.decode()
    assert "ann2" in body and "1 waiting" in body
    response = client.post(reverse("review:review-next", args=[project.pk]))
    assert response["Location"] == reverse("review:annotation", args=[annotation.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Accept" in page and "Reject" in page
    response = client.post(
        reverse("review:annotation", args=[annotation.pk]), {"decision": "accept", "version": 1}
    )
    assert response.status_code == 302
    annotation.refresh_from_db()
    assert annotation.state == "accepted"


def test_reject_without_comment_is_refused_on_the_page(client, project, traces, member):
    (trace,) = traces(1)
    annotation = submit(trace, member())
    client.force_login(member("reviewer"))
    url = reverse("review:annotation", args=[annotation.pk])
    response = client.post(url, {"decision": "reject", "version": 1})
    assert response.status_code == 400 and "Say why" in response.content.decode()
    response = client.post(url, {"decision": "reject", "version": 1, "comment": "Wrong step."})
    assert response.status_code == 302


def test_stale_review_on_the_page_shows_a_conflict(client, project, traces, member):
    (trace,) = traces(1)
    annotation = submit(trace, member())
    client.force_login(member("reviewer"))
    Annotation.objects.filter(pk=annotation.pk).update(version=2)
    url = reverse("review:annotation", args=[annotation.pk])
    response = client.post(url, {"decision": "accept", "version": 1}, follow=True)
    assert "changed since you opened it" in response.content.decode()


def test_stats_and_agreement_pages_show_numbers(client, project, traces, member):
    project.overlap = 2
    project.save()
    a, b = traces(2)
    alice, bob = member(username="alice"), member(username="bob")
    submit(a, alice, first_error_step=1, verdict="incorrect", step_labels={"0": 1, "1": -1})
    submit(a, bob, first_error_step=1, verdict="incorrect", step_labels={"0": 1, "1": -1})
    submit(b, alice, first_error_step=-1, verdict="correct", step_labels={"0": 1, "1": 1})
    submit(b, bob, first_error_step=4, verdict="incorrect", step_labels={"0": 1, "1": 0})
    client.force_login(member("reviewer"))
    body = client.get(reverse("review:agreement", args=[project.pk])).content.decode()
    assert "alice · bob" in body and "50 %" in body and "Disagreements" in body
    body = client.get(reverse("review:stats", args=[project.pk])).content.decode()
    assert "alice" in body and "50 %" in body


def test_api_claim_heartbeat_release_and_204(api_for, project, traces, member):
    (trace,) = traces(1)
    alice, bob = member(), member()
    api = api_for(alice)
    response = api.post(f"/api/v1/projects/{project.pk}/queue/next")
    assert response.status_code == 200 and response.data["trace_id"] == trace.pk
    assert "is_gold" not in response.data  # gold items are not revealed to annotators
    claim_id = response.data["id"]
    assert api_for(bob).post(f"/api/v1/projects/{project.pk}/queue/next").status_code == 204
    assert api.post(f"/api/v1/claims/{claim_id}/heartbeat").status_code == 200
    assert api_for(bob).post(f"/api/v1/claims/{claim_id}/heartbeat").status_code == 409
    assert api_for(bob).post(f"/api/v1/claims/{claim_id}/release").status_code == 403
    assert api.post(f"/api/v1/claims/{claim_id}/release").status_code == 200
    assert api.post(f"/api/v1/claims/{claim_id}/release").status_code == 409
    assert api.post(f"/api/v1/claims/{claim_id}/heartbeat").status_code == 409


def test_api_review(api_for, project, traces, member):
    (trace,) = traces(1)
    annotation = submit(trace, member())
    reviewer = member("reviewer")
    api = api_for(reviewer)
    response = api.post(f"/api/v1/projects/{project.pk}/review/next")
    assert response.status_code == 200 and response.data["annotation_id"] == annotation.pk
    url = f"/api/v1/annotations/{annotation.pk}/review"
    bad = api.post(url, {"decision": "reject"}, format="json")
    assert bad.status_code == 400
    response = api.post(
        url, {"decision": "edit", "edits": {"first_error_step": 0}, "version": 1}, format="json"
    )
    assert response.status_code == 201
    assert response.data["annotation_state"] == "accepted" and response.data["original"]
    again = api.post(url, {"decision": "accept"}, format="json")
    assert again.status_code == 409
    assert api.post(f"/api/v1/projects/{project.pk}/review/next").status_code == 204


def test_api_annotators_cannot_review(api_for, project, traces, member):
    (trace,) = traces(1)
    annotation = submit(trace, member())
    api = api_for(member())
    response = api.post(f"/api/v1/annotations/{annotation.pk}/review", {"decision": "accept"})
    assert response.status_code == 403
    assert api.post(f"/api/v1/projects/{project.pk}/review/next").status_code == 403


def test_api_policy_and_status(api, project, traces):
    traces(2)
    url = f"/api/v1/projects/{project.pk}/queue/policy"
    response = api.put(url, {"order": ["reflection_desc"], "gold_rate": 0.5}, format="json")
    assert response.status_code == 200 and response.data["gold_rate"] == 0.5
    assert api.put(url, {"order": ["bogus"]}, format="json").status_code == 400
    assert api.get(url).data["order"] == ["reflection_desc"]
    status = api.get(f"/api/v1/projects/{project.pk}/queue/").data
    assert status["in_queue"] == 2
    data = api.get(f"/api/v1/projects/{project.pk}/agreement").data
    assert data["project"]["items"] == 0
