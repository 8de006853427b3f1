"""Rejected work goes back to its author, who sees why, edits and resubmits (issue 14)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from reflectlab.annotations.models import Annotation
from reflectlab.review import decisions, selectors
from tests.factories import MembershipFactory, TraceFactory, UserFactory

JSON = {"Accept": "application/json"}
COMMENT = "Step 2 is fine; the first error is step 3."


@pytest.fixture
def rejected(project, trace):
    """An annotator's submitted work, rejected by a reviewer with a comment."""
    author, reviewer = UserFactory(username="ann"), UserFactory(username="rev")
    MembershipFactory(project=project, user=author, role="annotator")
    MembershipFactory(project=project, user=reviewer, role="reviewer")
    annotation = Annotation.objects.create(
        project=project, trace=trace, annotator=author, state="submitted", first_error_step=1
    )
    decisions.review_decide(
        annotation=annotation, reviewer=reviewer, decision="reject", comment=COMMENT
    )
    annotation.refresh_from_db()
    assert annotation.state == "rejected"
    return annotation


def test_the_author_sees_the_reviewers_comment_and_can_edit(client, rejected):
    client.force_login(rejected.annotator)
    body = client.get(reverse("traces:detail", args=[rejected.trace_id])).content.decode()
    assert 'data-editable="1"' in body
    assert "Returned to you by rev" in body and COMMENT in body
    assert "(read only)" not in body


def test_revising_and_resubmitting_puts_it_back_in_front_of_the_reviewer(client, rejected):
    client.force_login(rejected.annotator)
    save = client.post(
        reverse("annotations:save", args=[rejected.trace_id]),
        {"version": rejected.version, "step_labels": json.dumps({"2": -1}), "elapsed": 5},
        headers=JSON,
    )
    assert save.status_code == 200, save.content
    state = save.json()["annotation"]
    assert state["state"] == "draft"
    # While revising, the page still says what the reviewer asked for.
    body = client.get(reverse("traces:detail", args=[rejected.trace_id])).content.decode()
    assert "Revising — returned by rev" in body and COMMENT in body
    client.post(
        reverse("annotations:submit", args=[rejected.trace_id]),
        {"version": state["version"], "step_labels": json.dumps({"2": -1}), "first_error_step": 2},
    )
    rejected.refresh_from_db()
    assert rejected.state == "submitted" and rejected.first_error_step == 2
    reviewer = rejected.reviews.get().reviewer
    waiting = selectors.review_candidates(project=rejected.project, user=reviewer)
    assert [a.pk for a in waiting] == [rejected.pk]


def test_next_hands_back_returned_work_before_new_work(client, rejected, project):
    TraceFactory(project=project)
    client.force_login(rejected.annotator)
    response = client.post(reverse("review:next", args=[project.pk]))
    assert response["Location"] == reverse("traces:detail", args=[rejected.trace_id])


def test_submitted_work_stays_read_only(client, rejected):
    Annotation.objects.filter(pk=rejected.pk).update(state="submitted")
    client.force_login(rejected.annotator)
    body = client.get(reverse("traces:detail", args=[rejected.trace_id])).content.decode()
    assert 'data-editable="0"' in body and "Returned to you" not in body
