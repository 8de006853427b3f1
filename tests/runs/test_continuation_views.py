"""The branch panel shows a streamed continuation as it arrives, what was sent,
and the server's problems — all escaped; hidden reasoning is said."""

from __future__ import annotations

from django.urls import reverse

from reflectlab.traces.models import Trace
from tests.factories import TraceFactory

EVIL = "<script>alert(1)</script>"


def test_a_pending_branch_shows_its_streamed_text_and_the_sent_prompt_escaped(logged_in, trace):
    branch = TraceFactory(
        project=trace.project,
        prompt=trace.prompt,
        origin=Trace.Origin.REGENERATION,
        parent=trace,
        branch_step=1,
        hint="Check the sum.",
        state=Trace.State.PENDING,
        raw_response="PREFIX\n\nCheck the sum.\n\nSo far " + EVIL,
        continuation_prefix_chars=len("PREFIX\n\n"),
        continuation_mode="raw_completion",
        continuation_prompt="<|im_start|>assistant\n" + EVIL,
        warnings=["'usage' was list, not an object " + EVIL],
    )
    url = reverse("traces:branch", args=[trace.pk, branch.pk])
    response = logged_in.get(url, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in body  # still polling
    assert 'class="branch-stream' in body and "Check the sum.\n\nSo far &lt;script&gt;" in body
    assert "PREFIX" not in body.split('class="branch-stream')[1].split("</div>")[0]
    assert '<details class="sent-prompt">' in body and "&lt;|im_start|&gt;assistant" in body
    assert "&#x27;usage&#x27; was list" in body
    assert EVIL not in body


def test_hidden_reasoning_is_said_on_the_trace_page(logged_in, project):
    trace = TraceFactory(project=project, raw_response="The answer is 5.", reasoning_tokens=256)
    page = logged_in.get(reverse("traces:detail", args=[trace.pk])).content.decode()
    assert "256 reasoning tokens · reasoning hidden by the provider" in page
    assert "hides its reasoning" in page
