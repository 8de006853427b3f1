"""Closed folds of a long trace load their steps on demand (issue 16): the page,
the step-range endpoint, the page without scripts and the review page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from reflectlab.annotations.models import Annotation, StepEdit
from reflectlab.traces.models import Trace
from tests.factories import MembershipFactory, TraceFactory, UserFactory
from tests.review.conftest import submit

pytestmark = pytest.mark.django_db

HOSTILE = '<script>window.__pwned=1</script>"onerror="alert(1)'
HX = {"HX-Request": "true"}
SECTION = re.compile(r'<section class="step[^"]*" id="(?:b\d+-)?s(\d+)"')


def long_text(runs: int = 30) -> str:
    """Runs of four plain steps between reflections; step 5 carries hostile text."""
    parts = []
    for r in range(runs):
        parts += [f"Line {r}.{k}: {r} + {k} = {r + k}. Next one." for k in range(4)]
        parts.append(f"Wait, check {r} again.")
    parts[5] = f"Line 1.0 {HOSTILE}. Then more."
    return "\n\n".join(parts) + "\n</think>\n\nThe answer is \\boxed{1}."


@pytest.fixture
def long_trace(project):
    return TraceFactory(project=project, raw_response=long_text())


def steps_in(html: str) -> list[int]:
    return [int(i) for i in SECTION.findall(html)]


def fold_url(html: str, start: int) -> str:
    match = re.search(
        rf'data-start="{start}"[^>]*><summary>[^<]*</summary><div class="fold-body"'
        r' hx-get="([^"]+)"',
        html,
    )
    assert match, f"no lazy fold at {start}"
    return match.group(1).replace("&amp;", "&")


def test_long_trace_page_leaves_closed_folds_empty(logged_in, long_trace):
    html = logged_in.get(reverse("traces:detail", args=[long_trace.pk])).content.decode()
    shown = steps_in(html)
    assert 4 in shown and 9 in shown and 5 not in shown and 8 not in shown
    assert len(shown) == 30  # the reflections; the 120 plain steps wait in 30 folds
    assert html.count('class="fold-body"') == 30 and "Line 1.0" not in html
    assert "js/folds.js" in html
    # The config still covers every step (split points, starts), for the scripts.
    assert '"nSteps": 150' in html


def test_fold_endpoint_answers_the_range_as_the_page_draws_it(logged_in, long_trace):
    page_url = reverse("traces:detail", args=[long_trace.pk])
    html = logged_in.get(page_url).content.decode()
    url = fold_url(html, 5)
    assert url == reverse("annotations:step-range", args=[long_trace.pk]) + (
        "?split=1&start=5&stop=9"
    )
    fragment = logged_in.get(url, headers=HX)
    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert steps_in(body) == [5, 6, 7, 8]
    # The same bytes as the page with every fold drawn (?folds=open, no scripts).
    everything = logged_in.get(page_url, {"folds": "open"}).content.decode()
    assert body in everything and steps_in(everything) == list(range(150))
    # Model text in a fold is escaped like everywhere else.
    assert "<script>window" not in body and '"onerror=' not in body
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;&quot;onerror=" in body


def test_fold_without_htmx_redirects_to_the_page_with_every_fold(logged_in, long_trace):
    url = reverse("annotations:step-range", args=[long_trace.pk])
    response = logged_in.get(url, {"start": 5, "stop": 9})
    assert response.status_code == 302
    detail = reverse("traces:detail", args=[long_trace.pk])
    assert response["Location"] == f"{detail}?folds=open#s5"


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"start": 9, "stop": 5},
        {"start": -1, "stop": 5},
        {"start": "x", "stop": 2},
        {"start": 0, "stop": 4, "prefix": "<b>"},
    ],
)
def test_fold_endpoint_refuses_bad_queries(logged_in, long_trace, query):
    url = reverse("annotations:step-range", args=[long_trace.pk])
    assert logged_in.get(url, query, headers=HX).status_code == 400


def test_fold_endpoint_takes_only_the_prefix_of_this_branch(logged_in, long_trace):
    branch = TraceFactory(
        project=long_trace.project,
        prompt=long_trace.prompt,
        parent=long_trace,
        origin=Trace.Origin.REGENERATION,
        raw_response=long_trace.raw_response,
    )

    def get(trace, prefix):
        url = reverse("annotations:step-range", args=[trace.pk])
        return logged_in.get(url, {"start": 0, "stop": 4, "prefix": prefix}, headers=HX)

    assert get(branch, f"b{long_trace.pk}-").status_code == 400  # another trace's
    assert get(long_trace, f"b{long_trace.pk}-").status_code == 400  # not a branch
    ok = get(branch, f"b{branch.pk}-")
    assert steps_in(ok.content.decode()) == [0, 1, 2, 3]
    assert f'id="b{branch.pk}-s0"' in ok.content.decode()
    # Without htmx: the parent's page, where the branch is drawn, every fold open.
    url = reverse("annotations:step-range", args=[branch.pk])
    plain = logged_in.get(url, {"start": 0, "stop": 4, "prefix": f"b{branch.pk}-"})
    detail = reverse("traces:detail", args=[long_trace.pk])
    assert plain["Location"] == f"{detail}?folds=open#b{branch.pk}-s0"


def test_fold_endpoint_checks_project_membership(client, long_trace):
    url = reverse("annotations:step-range", args=[long_trace.pk])
    client.force_login(UserFactory())
    assert client.get(url, {"start": 0, "stop": 4}, headers=HX).status_code == 404
    member = UserFactory()
    MembershipFactory(project=long_trace.project, user=member, role="annotator")
    client.force_login(member)
    assert client.get(url, {"start": 0, "stop": 4}, headers=HX).status_code == 200


def test_fold_endpoint_follows_step_edits(logged_in, long_trace):
    """Split step 0 in two: the fold's steps are the edited ones, as on the page."""
    start = long_trace.analysis["steps"][0]["start"]
    cut = long_trace.step_text.index("Next one.", start)
    StepEdit.objects.create(trace=long_trace, splits=[cut], merges=[], version=1)
    html = logged_in.get(reverse("traces:detail", args=[long_trace.pk])).content.decode()
    url = fold_url(html, 6)
    body = logged_in.get(url, headers=HX).content.decode()
    assert steps_in(body) == [6, 7, 8, 9] and "Line 1.0" in body


def test_fold_endpoint_queries_do_not_grow_with_the_range(
    logged_in, long_trace, django_assert_max_num_queries
):
    url = reverse("annotations:step-range", args=[long_trace.pk])
    with django_assert_max_num_queries(8):
        response = logged_in.get(url, {"start": 0, "stop": 150}, headers=HX)
    assert steps_in(response.content.decode()) == list(range(150))


def test_labelled_steps_are_drawn_and_never_folded(logged_in, user, long_trace):
    Annotation.objects.create(
        project=long_trace.project,
        trace=long_trace,
        annotator=user,
        step_labels={"6": 1},
        first_error_step=11,
    )
    html = logged_in.get(reverse("traces:detail", args=[long_trace.pk])).content.decode()
    shown = steps_in(html)
    assert {5, 6, 7, 8, 10, 11, 12, 13} <= set(shown)
    assert re.search(r'class="step k-execution lab-p" id="s6"', html)
    assert re.search(r'class="step k-execution first-error" id="s11"', html)


def test_branch_of_a_long_trace_loads_its_copied_steps_on_demand(logged_in, long_trace):
    text = long_trace.raw_response
    branch = TraceFactory(
        project=long_trace.project,
        prompt=long_trace.prompt,
        parent=long_trace,
        origin=Trace.Origin.REGENERATION,
        branch_step=100,
        hint="Check again.",
        raw_response=text,
        continuation_prefix_chars=long_trace.analysis["steps"][100]["start"],
    )
    html = logged_in.get(reverse("traces:detail", args=[long_trace.pk])).content.decode()
    urls = re.findall(r'<div class="fold-body" hx-get="([^"]+prefix=b\d+-[^"]*)"', html)
    assert urls and f"prefix=b{branch.pk}-" in urls[0]
    body = logged_in.get(urls[0].replace("&amp;", "&"), headers=HX).content.decode()
    assert body.startswith(f'<section class="step k-execution" id="b{branch.pk}-s0"')


def test_review_page_loads_folds_on_demand(client, long_trace):
    annotator, reviewer = UserFactory(), UserFactory()
    MembershipFactory(project=long_trace.project, user=annotator, role="annotator")
    MembershipFactory(project=long_trace.project, user=reviewer, role="reviewer")
    annotation = submit(long_trace, annotator, step_labels={"6": -1}, first_error_step=6)
    client.force_login(reviewer)
    url = reverse("review:annotation", args=[annotation.pk])
    html = client.get(url).content.decode()
    assert "js/folds.js" in html and 'class="fold-body"' in html
    assert re.search(r'class="step k-execution lab-n first-error" id="s6"', html)
    fragment = client.get(fold_url(html, 15), headers=HX)
    assert steps_in(fragment.content.decode()) == [15, 16, 17, 18]
    assert "split-at" not in fragment.content.decode()  # read-only: no split marks
    assert steps_in(client.get(url, {"folds": "open"}).content.decode()) == list(range(150))
