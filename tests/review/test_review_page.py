"""The review page is the workspace read-only; Edit gives the annotator's controls (issue 14)."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from reflectlab.annotations.models import Annotation, StepEdit
from reflectlab.traces.analysis import analysis_columns
from reflectlab.traces.models import Trace
from tests.factories import PromptFactory, TraceFactory
from tests.review.conftest import submit

pytestmark = pytest.mark.django_db

LONG_STEP = "We need 2 + 3. " + "Carefully adding the units digit again and again. " * 20
RESPONSE = (
    f"{LONG_STEP}\n\n2 + 3 = 5.\n\nWait, let me double-check: 3 + 2 = 5.\n</think>\n\n\\boxed{{5}}"
)
REFERENCE = "The sum is five. " * 60 + "#### 5"


@pytest.fixture
def reviewed(project, member):
    project.error_categories = ["arithmetic", "misread"]
    project.principles = ["Checks each step"]
    project.save()
    prompt = PromptFactory(project=project, reference_answer=REFERENCE)
    trace = Trace.objects.create(
        project=project,
        prompt=prompt,
        raw_response=RESPONSE,
        **analysis_columns(response=RESPONSE, reference=REFERENCE),
    )
    branch = TraceFactory(project=project, prompt=prompt, parent=trace, branch_step=1)
    Trace.objects.filter(pk=branch.pk).update(hint="Recount <b>carefully</b>", final_correct=True)
    annotation = submit(
        trace,
        member(),
        step_labels={"0": 1, "1": -1},
        first_error_step=1,
        error_category="arithmetic",
    )
    return annotation, branch


def test_review_shows_full_steps_branches_and_reference_read_only(client, member, reviewed):
    annotation, branch = reviewed
    client.force_login(member("reviewer"))
    page = client.get(reverse("review:annotation", args=[annotation.pk])).content.decode()
    assert LONG_STEP.strip()[-60:] in page  # not cut with "…"
    assert REFERENCE.strip()[-40:] in page  # the reference is not squeezed
    assert f'id="branch-{branch.pk}"' in page and "final answer right" in page
    assert "Recount &lt;b&gt;carefully&lt;/b&gt;" in page  # the hint, escaped
    assert 'class="step k-reflection' in page and '<mark class="cue"' in page
    assert "lab-p" in page and "lab-n" in page and "first-error" in page  # labels, read-only
    # Edit: the annotator's controls, not free text and a bare number.
    assert '<option value="arithmetic" selected>arithmetic</option>' in page
    assert 'value="Checks each step"' in page and 'name="step_labels"' in page


def test_reviewer_edits_step_labels_through_the_one_validator(client, member, reviewed):
    annotation, _ = reviewed
    client.force_login(member("reviewer"))
    url = reverse("review:annotation", args=[annotation.pk])
    edit = {
        "decision": "edit",
        "version": annotation.version,
        "first_error_step": "2",
        "error_category": "misread",
        "violated_principles": ["Checks each step"],
    }
    bad = client.post(url, {**edit, "step_labels": json.dumps({"0": 1, "99": -1})})
    assert bad.status_code == 400 and "Step labels map step indexes" in bad.content.decode()
    made_up = client.post(
        url, {**edit, "error_category": "invented", "step_labels": json.dumps({"2": -1})}
    )
    assert made_up.status_code == 400
    annotation.refresh_from_db()
    assert annotation.state == "submitted" and annotation.step_labels == {"0": 1, "1": -1}
    ok = client.post(url, {**edit, "step_labels": json.dumps({"0": 1, "1": 1, "2": -1})})
    assert ok.status_code == 302
    annotation.refresh_from_db()
    assert annotation.state == Annotation.State.ACCEPTED
    assert annotation.step_labels == {"0": 1, "1": 1, "2": -1}
    assert annotation.first_error_step == 2 and annotation.error_category == "misread"
    assert annotation.violated_principles == ["Checks each step"]


def test_review_page_shows_the_steps_as_edited_where_the_labels_point(client, member, reviewed):
    """Labels index the edited steps (splits/merges remap them): the review page draws those."""
    annotation, _ = reviewed
    trace = annotation.trace
    cut = trace.step_text.index("Carefully adding")
    StepEdit.objects.create(trace=trace, splits=[cut], merges=[], version=1)
    client.force_login(member("reviewer"))
    page = client.get(reverse("review:annotation", args=[annotation.pk])).content.decode()
    assert f"{trace.n_steps + 1} steps" in page
    assert re.search(
        r'id="s1" data-i="1"><div class="gut">.*?<div class="tx">Carefully adding', page
    )
