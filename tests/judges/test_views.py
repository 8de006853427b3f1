from __future__ import annotations

import pytest
from django.urls import reverse

from reflectlab.judges import services
from reflectlab.judges.models import Judge, JudgeRun, JudgeSample
from reflectlab.providers.models import ModelConfig

pytestmark = pytest.mark.django_db


@pytest.fixture
def config(project):
    return ModelConfig.objects.create(
        project=project, name="judge cfg", base_url="http://127.0.0.1:9/v1", model="m"
    )


@pytest.fixture
def judge(project, user, config):
    return services.judge_create(
        project=project, name="critic", kind="critic", model_config=config, user=user
    )


def test_manager_creates_a_judge_from_the_page(logged_in, project, config):
    url = reverse("judges:create", args=[project.pk])
    assert logged_in.get(url).status_code == 200
    response = logged_in.post(
        url, {"name": "PB", "kind": "critic", "model_config": config.pk, "samples_per_trace": 3}
    )
    judge = Judge.objects.get(name="PB")
    assert response.status_code == 302 and response["Location"] == reverse(
        "judges:detail", args=[judge.pk]
    )
    assert judge.prompts.get().template.startswith("The following is a math problem")
    page = logged_in.get(reverse("judges:list", args=[project.pk])).content.decode()
    assert "PB" in page and "Hidden until the annotator submits" in page


def test_a_bad_template_is_refused_with_the_reason_and_nothing_changes(logged_in, judge):
    response = logged_in.post(
        reverse("judges:prompt-add", args=[judge.pk]), {"template": "{{oops}}"}
    )
    assert response.status_code == 400
    assert "Unknown placeholders: oops" in response.content.decode()
    assert judge.prompts.count() == 1


def test_judge_run_from_the_page_then_progress_polls_and_stops(logged_in, judge, trace):
    response = logged_in.post(reverse("judges:run-create", args=[judge.pk]), {"traces": "all"})
    run = JudgeRun.objects.get()
    assert response["Location"] == reverse("judges:run", args=[run.pk])
    page = logged_in.get(reverse("judges:run", args=[run.pk]))
    assert 'hx-trigger="every 1s"' in page.content.decode()
    services.judge_run_cancel(run=run)
    partial = logged_in.get(reverse("judges:run", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert partial.status_code == 286  # htmx stops polling
    assert "<html" not in partial.content.decode() and 'id="run-status"' in partial.content.decode()


def test_judge_output_is_escaped_on_the_run_page(logged_in, judge, trace, user):
    run = services.judge_run_create(judge=judge, user=user, enqueue=False)
    JudgeSample.objects.create(
        run=run, trace=trace, sample_index=0, raw_output="<script>alert(1)</script>",
        parse_state="unparseable", parse_error="No step index",
    )  # fmt: skip
    html = logged_in.get(reverse("judges:run", args=[run.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_dashboard_shows_the_metric_and_validates_its_filters(logged_in, project, judge):
    url = reverse("judges:dashboard", args=[project.pk])
    html = logged_in.get(url).content.decode()
    assert "First-error agreement (ProcessBench)" in html
    assert logged_in.get(url, {"judge": "999999"}).status_code == 400
    assert logged_in.get(url, {"judge": judge.pk}).status_code == 200
