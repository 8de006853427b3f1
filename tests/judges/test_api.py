from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from reflectlab.annotations.models import Annotation
from reflectlab.judges import memory, services
from reflectlab.judges.models import JudgePrompt, JudgeRun, Suggestion, SuggestionOutcome
from reflectlab.providers.models import ModelConfig
from tests.factories import MembershipFactory, TraceFactory, UserFactory
from tests.judges.conftest import claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def config(project):
    return ModelConfig.objects.create(
        project=project, name="judge", base_url="http://127.0.0.1:9/v1", model="m"
    )


@pytest.fixture
def judge(project, user, config):
    return services.judge_create(
        project=project, name="critic", kind="critic", model_config=config, user=user
    )


@pytest.fixture
def annotator(project):
    member = UserFactory()
    MembershipFactory(project=project, user=member, role="annotator")
    client = APIClient()
    client.force_authenticate(member)
    client.user = member
    return client


def _suggestion(trace, judge, **kwargs) -> Suggestion:
    values = {"source": "judge", "signal": "first_error", "parse_state": "parsed",
              "first_error_step": 1, "confidence": 0.75, "judge": judge}  # fmt: skip
    return Suggestion.objects.create(project=trace.project, trace=trace, **{**values, **kwargs})


def test_manager_creates_a_judge_and_new_prompt_versions(api, project, config):
    response = api.post(
        f"/api/v1/projects/{project.pk}/judges/",
        {"name": "PB critic", "kind": "critic", "model_config": config.pk, "samples_per_trace": 3},
        format="json",
    )
    assert response.status_code == 201, response.json()
    judge_id = response.json()["id"]
    assert response.json()["latest_version"] == 1
    bad = api.post(
        f"/api/v1/judges/{judge_id}/prompts/", {"template": "{{problem}}"}, format="json"
    )
    assert bad.status_code == 400 and "template" in bad.json()["error"]["fields"]
    new = api.post(
        f"/api/v1/judges/{judge_id}/prompts/",
        {"template": "Problem {{problem}}\nSteps {{steps}}\n\\boxed{}"},
        format="json",
    )
    assert new.status_code == 201 and new.json()["version"] == 2
    versions = api.get(f"/api/v1/judges/{judge_id}/prompts/").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert (
        api.get(f"/api/v1/projects/{project.pk}/judges/").json()["results"][0]["name"]
        == "PB critic"
    )


def test_prompt_versions_are_immutable_once_used(project, user, judge, trace):
    first = services.judge_prompt_latest(judge=judge)
    services.judge_run_create(judge=judge, user=user, enqueue=False)
    second = services.judge_prompt_add(
        judge=judge, template=first.template + "\nBe brief.", user=user
    )
    assert second.version == 2
    first.refresh_from_db()
    assert first.template == JudgePrompt.objects.get(pk=first.pk).template  # untouched
    assert JudgeRun.objects.get().prompt_id == first.pk


def test_annotator_may_not_create_judges_or_runs(annotator, project, config, judge):
    response = annotator.post(
        f"/api/v1/projects/{project.pk}/judges/",
        {"name": "x", "kind": "critic", "model_config": config.pk},
        format="json",
    )
    assert response.status_code == 403
    assert (
        annotator.post("/api/v1/judge-runs/", {"judge": judge.pk}, format="json").status_code == 403
    )


def test_judge_run_create_status_and_cancel(
    api, project, judge, trace, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(
            "/api/v1/judge-runs/", {"judge": judge.pk, "traces": "selection", "trace_ids": [trace.pk]},
            format="json",
        )  # fmt: skip
    assert response.status_code == 201, response.json()
    assert len(callbacks) == 1  # enqueued after commit
    run = response.json()
    assert (run["state"], run["items_total"], run["prompt_version"]) == ("queued", 1, 1)
    assert api.get(f"/api/v1/judge-runs/{run['id']}/").json()["percent"] == 0
    assert api.post(f"/api/v1/judge-runs/{run['id']}/cancel").status_code == 200
    again = api.post(f"/api/v1/judge-runs/{run['id']}/cancel")
    assert again.status_code == 409  # the one Conflict shape, the run as it is now
    assert again.json()["error"] == {
        "status": 409, "code": "conflict", "detail": f"Judge run {run['id']} has already finished."
    }  # fmt: skip
    assert again.json()["current"]["state"] == "cancelled"
    none = api.post("/api/v1/judge-runs/", {"judge": judge.pk, "traces": "selection",
                                            "trace_ids": [10**9]}, format="json")  # fmt: skip
    assert none.status_code == 400


def test_other_projects_judges_answer_404(project, judge, make_user):
    stranger = APIClient()
    stranger.force_authenticate(make_user())
    assert stranger.get(f"/api/v1/judges/{judge.pk}/").status_code == 404
    assert stranger.get(f"/api/v1/projects/{project.pk}/suggestions/").status_code == 404


def test_hidden_mode_keeps_suggestions_from_annotators_until_they_submit(
    annotator, project, judge, trace
):
    suggestion = _suggestion(trace, judge)
    url = f"/api/v1/projects/{project.pk}/suggestions/?trace={trace.pk}"
    assert annotator.get(url).json()["count"] == 0
    assert (
        annotator.post(f"/api/v1/suggestions/{suggestion.pk}/accept", {"version": 1}).status_code
        == 400
    )
    Annotation.objects.create(
        project=project,
        trace=trace,
        annotator=annotator.user,
        first_error_step=1,
        state="submitted",
    )
    assert annotator.get(url).json()["count"] == 1
    services.assist_settings_update(project=project, suggestion_mode="prefill")
    assert annotator.get(f"/api/v1/projects/{project.pk}/suggestions/").json()["count"] == 1


def test_accept_fills_the_draft_and_a_stale_version_is_refused(annotator, project, judge, trace):
    services.assist_settings_update(project=project, suggestion_mode="prefill")
    claim(project, annotator.user, trace)
    suggestion = _suggestion(trace, judge, first_error_step=2)
    response = annotator.post(f"/api/v1/suggestions/{suggestion.pk}/accept", {"version": 1})
    assert response.status_code == 200, response.json()
    assert (response.json()["first_error_step"], response.json()["version"]) == (2, 2)
    stale = annotator.post(f"/api/v1/suggestions/{suggestion.pk}/accept", {"version": 1})
    assert stale.status_code == 409 and stale.json()["current"]["version"] == 2
    outcome = SuggestionOutcome.objects.get(suggestion=suggestion)
    assert (outcome.outcome, outcome.taken) == ("accepted", True)


def test_unparseable_suggestions_cannot_be_accepted(annotator, project, judge, trace):
    services.assist_settings_update(project=project, suggestion_mode="prefill")
    claim(project, annotator.user, trace)
    suggestion = _suggestion(trace, judge, parse_state="unparseable", first_error_step=None)
    response = annotator.post(f"/api/v1/suggestions/{suggestion.pk}/accept", {"version": 1})
    assert response.status_code == 400
    assert "could not be read" in str(response.json())


def test_ignore_and_settle_record_what_became_of_each_suggestion(annotator, project, judge, trace):
    services.assist_settings_update(project=project, suggestion_mode="prefill")
    claim(project, annotator.user, trace)
    taken = _suggestion(trace, judge, first_error_step=2)
    other = _suggestion(trace, judge, first_error_step=0, signal="hint", hint="Check step 0.")
    annotator.post(f"/api/v1/suggestions/{taken.pk}/accept", {"version": 1})
    assert annotator.post(f"/api/v1/suggestions/{other.pk}/ignore").json()["outcome"] == "ignored"
    annotation = Annotation.objects.get(trace=trace, annotator=annotator.user)
    Annotation.objects.filter(pk=annotation.pk).update(first_error_step=1)  # changed their mind
    annotation.refresh_from_db()
    services.suggestion_outcomes_settle(annotation=annotation, shown=True)
    outcomes = dict(SuggestionOutcome.objects.values_list("suggestion_id", "outcome"))
    assert outcomes == {taken.pk: "changed", other.pk: "ignored"}


def test_assist_settings_only_managers_change(api, annotator, project):
    assert api.get(f"/api/v1/projects/{project.pk}/assist").json()["suggestion_mode"] == "hidden"
    assert (
        annotator.patch(
            f"/api/v1/projects/{project.pk}/assist", {"suggestion_mode": "prefill"}, format="json"
        ).status_code
        == 403
    )
    response = api.patch(
        f"/api/v1/projects/{project.pk}/assist", {"suggestion_mode": "prefill"}, format="json"
    )
    assert response.json()["suggestion_mode"] == "prefill"
    assert (
        api.patch(
            f"/api/v1/projects/{project.pk}/assist", {"suggestion_mode": "shouting"}, format="json"
        ).status_code
        == 400
    )


def test_judge_eval_api_is_for_reviewers(api, annotator, project, judge):
    assert annotator.get(f"/api/v1/projects/{project.pk}/judge-eval").status_code == 403
    body = api.get(f"/api/v1/projects/{project.pk}/judge-eval?judge={judge.pk}").json()
    assert body["suggestions"] == 0 and body["processbench"] == []


def test_hint_memory_finds_accepted_hints_same_prompt_first(api, project, user):
    steps = "Let x be the count.\n\nThen divide 12 apples by 3: x = 5.\n\nThe answer is 5."
    here = TraceFactory(project=project, raw_response=steps)
    same_prompt = TraceFactory(project=project, prompt=here.prompt, raw_response=steps)
    similar = TraceFactory(project=project, raw_response="Start.\n\nDivide twelve apples by three.")
    unrelated = TraceFactory(project=project, raw_response="Start.\n\nThe train leaves at noon.")
    pending = TraceFactory(project=project, raw_response="Start.\n\nDivide apples by three.")
    for trace, hint, state in [
        (same_prompt, "Re-read the question.", "accepted"),
        (similar, "Dividing 12 apples by 3 gives 4, not 5.", "accepted"),
        (unrelated, "Noon is 12:00.", "accepted"),
        (pending, "Not accepted yet: apples divide.", "submitted"),
    ]:
        Annotation.objects.create(
            project=project, trace=trace, annotator=user, hint=hint, hint_step=1, state=state,
            first_error_step=1,
        )  # fmt: skip
    url = f"/api/v1/projects/{project.pk}/hint-memory?trace={here.pk}&step=1"
    assert api.get(url).json() == []  # reading never writes: not indexed yet
    memory.hint_memory_refresh(project=project)
    response = api.get(url)
    assert response.status_code == 200, response.json()
    hints = [m["hint"] for m in response.json()]
    assert hints[0] == "Re-read the question."  # same prompt first
    assert "Dividing 12 apples by 3 gives 4, not 5." in hints
    assert "Noon is 12:00." not in hints and not any("Not accepted" in h for h in hints)
    # A hint that stops being accepted leaves the memory.
    Annotation.objects.filter(hint__startswith="Dividing").update(state="rejected")
    memory.hint_memory_refresh(project=project)
    response = api.get(f"/api/v1/projects/{project.pk}/hint-memory?trace={here.pk}&step=1")
    assert "Dividing 12 apples by 3 gives 4, not 5." not in [m["hint"] for m in response.json()]


def test_hint_memory_query_text_is_never_search_syntax(api, project, trace):
    response = api.get(
        f"/api/v1/projects/{project.pk}/hint-memory",
        {"trace": trace.pk, "q": 'apples" OR NEAR(x) * ) | & ! :'},
    )
    assert response.status_code == 200 and response.json() == []


def test_a_reviewer_accepting_a_hint_puts_it_in_the_memory(project, user, trace, make_user):
    from reflectlab.review.decisions import review_decide

    author = make_user()
    MembershipFactory(project=project, user=author, role="annotator")
    annotation = Annotation.objects.create(
        project=project, trace=trace, annotator=author, hint="Carry the one.", hint_step=1,
        first_error_step=1, state="submitted",
    )  # fmt: skip
    review_decide(annotation=annotation, reviewer=user, decision="accept")
    found = memory.hint_memory_search(project=project, text="carry", prompt_id=None)
    assert [m.entry.hint for m in found] == ["Carry the one."]
