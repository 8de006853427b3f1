from __future__ import annotations

import pytest
from django.urls import reverse

from reflectlab.annotations.models import Annotation
from reflectlab.judges import memory, services
from reflectlab.judges.models import Suggestion, SuggestionOutcome
from reflectlab.providers.models import ModelConfig
from tests.factories import MembershipFactory, UserFactory
from tests.judges.conftest import claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotator_client(client, project):
    member = UserFactory()
    MembershipFactory(project=project, user=member, role="annotator")
    client.force_login(member)
    client.user = member
    return client


@pytest.fixture
def suggestion(project, user, trace):
    config = ModelConfig.objects.create(
        project=project, name="c", base_url="http://127.0.0.1:9/v1", model="m"
    )
    judge = services.judge_create(
        project=project, name="critic", kind="critic", model_config=config, user=user
    )
    return Suggestion.objects.create(
        project=project, trace=trace, source="judge", signal="first_error", judge=judge,
        prompt_version=1, parse_state="parsed", first_error_step=1, confidence=0.4, samples=5,
    )  # fmt: skip


def panel(client, trace):
    return client.get(reverse("judges:assist-panel", args=[trace.pk]), HTTP_HX_REQUEST="true")


def test_hidden_mode_shows_nothing_before_submit_and_the_answer_after(
    annotator_client, project, trace, suggestion
):
    html = panel(annotator_client, trace).content.decode()
    assert "Hidden until you submit" in html and "First error at step" not in html
    Annotation.objects.create(
        project=project, trace=trace, annotator=annotator_client.user, first_error_step=1,
        state="submitted",
    )  # fmt: skip
    html = panel(annotator_client, trace).content.decode()
    assert "First error at step" in html and "You have submitted" in html
    assert "accept-suggestion" not in html  # nothing to accept into a submitted annotation


def test_prefill_mode_offers_the_top_suggestion_on_g_and_marks_low_confidence(
    annotator_client, project, trace, suggestion
):
    services.assist_settings_update(project=project, suggestion_mode="prefill")
    html = panel(annotator_client, trace).content.decode()
    assert 'aria-keyshortcuts="g"' in html and "40 % unsure" in html
    assert "First wrong answer" not in html or "analyser" in html


def test_take_fills_the_draft_and_a_stale_version_answers_409(
    annotator_client, project, trace, suggestion
):
    services.assist_settings_update(project=project, suggestion_mode="prefill")
    claim(project, annotator_client.user, trace)
    url = reverse("judges:suggestion-take", args=[suggestion.pk])
    response = annotator_client.post(url, {"version": "1"})
    assert response.status_code == 200, response.json()
    assert response.json()["annotation"]["first_error_step"] == 1
    stale = annotator_client.post(url, {"version": "1"})
    assert stale.status_code == 409 and stale.json()["current"]["version"] == 2
    assert annotator_client.post(url, {"version": "x"}).status_code == 400


def test_take_is_refused_while_suggestions_are_hidden(annotator_client, trace, suggestion):
    url = reverse("judges:suggestion-take", args=[suggestion.pk])
    response = annotator_client.post(url, {"version": "1"})
    assert response.status_code == 400
    assert not Annotation.objects.filter(first_error_step=1).exists()


def test_dismiss_records_ignored_and_returns_the_panel(
    annotator_client, project, trace, suggestion
):
    services.assist_settings_update(project=project, suggestion_mode="prefill")
    claim(project, annotator_client.user, trace)
    response = annotator_client.post(
        reverse("judges:suggestion-dismiss", args=[suggestion.pk]), HTTP_HX_REQUEST="true"
    )
    assert 'id="assist-panel"' in response.content.decode()
    assert SuggestionOutcome.objects.get().outcome == "ignored"


def test_model_text_in_suggestions_is_escaped(annotator_client, project, trace, suggestion):
    services.assist_settings_update(project=project, suggestion_mode="prefill")
    Suggestion.objects.filter(pk=suggestion.pk).update(
        hint='<img src=x onerror="alert(1)">', critique="<script>alert(2)</script>"
    )
    html = panel(annotator_client, trace).content.decode()
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_hint_memory_panel_lists_accepted_hints(logged_in, project, user, trace):
    from tests.factories import TraceFactory

    other = TraceFactory(project=project, prompt=trace.prompt)
    Annotation.objects.create(
        project=project, trace=other, annotator=user, hint="<b>Recount</b> the sum.", hint_step=1,
        first_error_step=1, state="accepted",
    )  # fmt: skip
    memory.hint_memory_refresh(project=project)  # as accepting it in review does
    html = logged_in.get(
        reverse("judges:hint-memory", args=[trace.pk]), {"step": "1"}
    ).content.decode()
    assert "&lt;b&gt;Recount&lt;/b&gt; the sum." in html and "same prompt" in html
