"""The trace page as the annotation workspace: steps, marks, escaping, partials."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from reflectlab.annotations.models import Annotation
from reflectlab.traces.models import Trace
from reflectlab.traces.presenters import present_trace
from tests.factories import MembershipFactory, TraceFactory, UserFactory

REFLECTIVE = (
    "Compute 2 + 3.\n\n2 + 3 = 6, so the answer is \\boxed{6}.\n\n"
    "Wait, let me double-check: 2 + 3 = 5.\n\nSo the answer is \\[\\boxed{5}\\]\n"
    "</think>\n\nThe answer is $\\boxed{5}$ and it costs $5.\n"
)


@pytest.fixture
def reflective(project):
    return TraceFactory(project=project, raw_response=REFLECTIVE)


def test_presenter_marks_cue_candidates_and_episode(reflective):
    view = present_trace(reflective)
    steps = [s for b in view.blocks for s in b.steps]
    assert [s.kind for s in steps][2] == "reflection"
    cue = [seg for seg in steps[2].segments if seg.kind == "cue"]
    assert cue and cue[0].text == "Wait"
    wrong = [seg for seg in steps[1].segments if seg.kind == "cand"]
    assert wrong[0].css == "cand wrong" and wrong[0].text == "\\boxed{6}"
    right = [seg for seg in steps[3].segments if seg.kind == "cand"]
    # widened to the whole display-math span, so KaTeX sees both delimiters
    assert right[0].css == "cand right" and right[0].text == "\\[\\boxed{5}\\]"
    assert steps[3].badge == "corrects F→T"
    assert view.answer and "".join(s.text for s in view.answer).startswith("The answer")


def test_presenter_text_round_trips(reflective):
    view = present_trace(reflective)
    for block in view.blocks:
        for step in block.steps:
            s = reflective.analysis["steps"][step.index]
            assert "".join(seg.text for seg in step.segments) == REFLECTIVE[s["start"] : s["end"]]


def test_long_execution_runs_fold(project):
    body = "\n\n".join(f"Line {i}: 1 + {i} = {i + 1}." for i in range(8))
    trace = TraceFactory(project=project, raw_response=body + "\n\nHmm, fine.\n</think>\nok")
    view = present_trace(trace)
    assert view.blocks[0].fold and len(view.blocks[0].steps) == 8
    assert not view.blocks[1].fold


def test_workspace_page_renders_steps_legend_and_form(logged_in, reflective):
    response = logged_in.get(reverse("traces:detail", args=[reflective.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="s2"' in html and "k-reflection" in html
    assert re.search(r"<mark class=\"cue\" title=\"matched cue: [^\"]+\">Wait</mark>", html)
    assert "cand wrong" in html and "cand right" in html
    assert "corrects F→T" in html
    assert "Final answer section" in html
    assert 'id="annotation-form"' in html
    assert "katex.min.js" in html and "workspace.js" in html
    assert "<script>" not in html  # no inline scripts (CSP)


def test_workspace_escapes_model_output(logged_in, project):
    hostile = (
        '<script>window.__pwned=1</script>\n\n<img src=x onerror="alert(1)">\n\n'
        "Wait, [x](javascript:alert(1)) \\href{javascript:alert(1)}{x} </textarea> &amp;\n</think>"
        "<b>bold</b>"
    )
    trace = TraceFactory(project=project, raw_response=hostile)
    html = logged_in.get(reverse("traces:detail", args=[trace.pk])).content.decode()
    assert "<script>window" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "&lt;/textarea&gt;" in html and "&amp;amp;" in html and "<b>bold" not in html


def test_truncated_trace_says_so(logged_in, project):
    trace = TraceFactory(project=project, raw_response="Step one.\n\nWait, step two.")
    assert trace.truncated
    html = logged_in.get(reverse("traces:detail", args=[trace.pk])).content.decode()
    assert "Truncated" in html and "Final answer section" not in html


def test_workspace_shows_my_saved_labels(logged_in, user, reflective):
    Annotation.objects.create(
        project=reflective.project,
        trace=reflective,
        annotator=user,
        step_labels={"1": -1},
        first_error_step=1,
    )
    html = logged_in.get(reverse("traces:detail", args=[reflective.pk])).content.decode()
    assert re.search(r'class="step k-execution lab-n first-error" id="s1"', html)


def test_workspace_queries_do_not_grow_with_steps(
    logged_in, project, django_assert_max_num_queries
):
    body = "\n\n".join(f"Wait, step {i} = {i}. \\boxed{{{i}}}" for i in range(300))
    trace = TraceFactory(project=project, raw_response=body + "\n</think>\n\\boxed{5}")
    with django_assert_max_num_queries(12):
        response = logged_in.get(reverse("traces:detail", args=[trace.pk]))
    assert response.status_code == 200


def test_outsider_gets_404_and_annotator_sees_page(client, trace):
    outsider = UserFactory()
    client.force_login(outsider)
    assert client.get(reverse("traces:detail", args=[trace.pk])).status_code == 404
    annotator = UserFactory()
    MembershipFactory(project=trace.project, user=annotator, role="annotator")
    client.force_login(annotator)
    assert client.get(reverse("traces:detail", args=[trace.pk])).status_code == 200


def test_branch_partial_polls_until_ready(logged_in, trace):
    branch = TraceFactory(
        project=trace.project,
        prompt=trace.prompt,
        origin=Trace.Origin.REGENERATION,
        parent=trace,
        branch_step=1,
        hint="Check the sum.",
        state=Trace.State.PENDING,
        raw_response="",
    )
    url = reverse("traces:branch", args=[trace.pk, branch.pk])
    pending = logged_in.get(url, headers={"HX-Request": "true"})
    assert pending.status_code == 200
    assert 'hx-trigger="every 1s"' in pending.content.decode()
    Trace.objects.filter(pk=branch.pk).update(
        state=Trace.State.READY,
        raw_response="We need 2 + 3.\n\nCheck the sum.\n\n5\n</think>\\boxed{5}",
    )
    branch.refresh_from_db()
    from reflectlab.traces.services import trace_analyze

    trace_analyze(trace=branch)
    ready = logged_in.get(url, headers={"HX-Request": "true"})
    assert ready.status_code == 286
    body = ready.content.decode()
    assert "every 1s" not in body and '<mark class="hint"' in body and "final answer right" in body
    page = logged_in.get(reverse("traces:detail", args=[trace.pk])).content.decode()
    assert f'id="branch-{branch.pk}"' in page and "has-branches" in page


def test_branch_partial_of_another_trace_is_404(logged_in, trace, project):
    other = TraceFactory(project=project)
    branch = TraceFactory(project=project, prompt=other.prompt, parent=other)
    url = reverse("traces:branch", args=[trace.pk, branch.pk])
    assert logged_in.get(url, headers={"HX-Request": "true"}).status_code == 404
