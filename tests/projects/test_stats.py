"""The project page's and list's counts come from ``ProjectRollup`` and equal the direct
``COUNT``s over the traces after every write path (issue 16)."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.urls import reverse

from reflectlab.dashboards import rollups
from reflectlab.dashboards.models import ProjectRollup
from reflectlab.projects.selectors import project_stats, projects_for_user
from reflectlab.prompts.models import Prompt
from reflectlab.providers.models import ModelConfig
from reflectlab.runs.models import Run
from reflectlab.traces import services as trace_services
from reflectlab.traces.models import Trace
from tests.dashboards.conftest import make_trace
from tests.dashboards.test_rollups import MODELS, random_trace
from tests.factories import MembershipFactory, ProjectFactory, PromptFactory


def direct(project) -> dict:
    """What the page counted before: five COUNTs over every trace of the project."""
    traces = Trace.objects.filter(project=project).aggregate(
        total=Count("id"),
        reflective=Count("id", filter=Q(has_reflection=True)),
        correct=Count("id", filter=Q(final_correct=True)),
        wrong=Count("id", filter=Q(final_correct=False)),
        truncated=Count("id", filter=Q(truncated=True)),
    )
    return {"prompts": Prompt.objects.filter(project=project).count(), "traces": traces}


def assert_exact(*projects) -> None:
    for project in projects:
        assert project_stats(project=project) == direct(project)


@pytest.fixture
def data(db, user):
    """Random traces (every state, some reflective, branches) in two projects of the user."""
    rng = random.Random(6)
    project, other = ProjectFactory(), ProjectFactory()
    for p in (project, other):
        MembershipFactory(project=p, user=user, role="manager")
    config = ModelConfig.objects.create(project=project, name="cfg", model=MODELS[0])
    run = Run.objects.create(project=project, model_config=config)
    prompts = [PromptFactory(project=project) for _ in range(4)]
    for i in range(80):
        trace = random_trace(project, rng, run=run if i % 3 == 0 else None, prompt=prompts[i % 4])
        if i % 7 == 0:
            make_trace(project, parent=trace, prompt=trace.prompt, origin="regeneration",
                       external_id=None, final_correct=rng.choice([True, False, None]))  # fmt: skip
    for _ in range(15):
        random_trace(other, rng)
    Trace.objects.filter(project=project, pk__in=Trace.objects.filter(
        project=project).values("pk")[:20]).update(has_reflection=True)  # fmt: skip
    return project, other, run, prompts


def test_the_counts_equal_the_direct_counts(data):
    project, other, *_ = data
    stats = project_stats(project=project)
    assert stats["traces"]["total"] > stats["traces"]["correct"] > 0  # not vacuous
    assert 0 < stats["traces"]["reflective"] < stats["traces"]["total"]
    assert stats["traces"]["wrong"] > 0 and stats["traces"]["truncated"] > 0
    assert_exact(project, other)
    assert not ProjectRollup.objects.filter(project_id=project.pk, compacted=False).exists()
    assert ProjectRollup.objects.filter(project_id=project.pk).count() == 1


def test_imports_updates_reanalysis_and_deletes_keep_them_exact(data):
    project, other, run, prompts = data
    records = [
        {
            "external_id": f"imp-{i}", "model": MODELS[i % 2],
            "response": "Hmm.\n\nWait, 2 + 2 = 4.\n</think>\n\\boxed{4}" if i % 2 else "\n</think>\n\\boxed{5}",
            "reasoning": "", "finish_reason": "length" if i % 5 == 0 else "stop",
            "prompt_tokens": None, "completion_tokens": None,
            "prompt": {"external_id": f"ip-{i}", "text": "2 + 2?", "reference_answer": "4", "metadata": {}},
        }
        for i in range(30)
    ]  # fmt: skip
    assert_exact(project)  # compacted first: the writes below land as deltas on it
    assert trace_services.traces_write(project=project, records=records)[0] == 30
    assert_exact(project, other)
    trace_services.traces_write(project=project, records=records)  # re-import: skipped
    assert_exact(project)
    Prompt.objects.filter(project=project).update(reference_answer="5")
    assert trace_services.traces_reanalyze(project=project, force=True) > 0  # bulk_update
    assert_exact(project, other)
    one = Trace.objects.filter(project=project, has_reflection=True).first()
    one.raw_response = "No reflection.\n</think>\n\\boxed{5}"
    trace_services.trace_analyze(trace=one)  # save(update_fields=...)
    assert_exact(project)
    Trace.objects.filter(project=project, final_correct=False).update(final_correct=None)
    Trace.objects.filter(project=project, state="pending").update(state="ready", truncated=True)
    assert_exact(project)
    Trace.objects.filter(project=project, parent__isnull=False).first().delete()
    prompts[1].delete()  # cascades to its traces and their branches
    run.delete()  # cascades to the run's traces
    assert_exact(project, other)
    pk = project.pk
    project.delete()
    rollups.compact(ProjectRollup, project_id=pk)
    assert not ProjectRollup.objects.filter(project_id=pk).exists()
    assert_exact(other)


def test_the_page_and_the_list_read_the_rollup(data, client, user):
    project, other, *_ = data
    assert_exact(project)
    with connection.cursor() as cursor:  # the rollup is what is read: break it, see it
        cursor.execute(
            "UPDATE dashboards_projectrollup SET traces = traces + 1000, wrong = wrong + 1000 "
            "WHERE project_id = %s", [project.pk],
        )  # fmt: skip
    expected = direct(project)["traces"]["total"] + 1000
    assert project_stats(project=project)["traces"]["total"] == expected
    listed = {p.pk: p.n_traces for p in projects_for_user(user=user)}
    assert listed == {project.pk: expected, other.pk: direct(other)["traces"]["total"]}
    client.force_login(user)
    html = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    assert f"<b>{expected}</b><span>traces</span>" in html
    assert f"<b>{direct(project)['traces']['wrong'] + 1000}</b><span>wrong</span>" in html
    rollups.rebuild(project=project)  # the repair
    assert_exact(project)


def test_the_list_folds_the_deltas_and_counts_them(data, user):
    project, other, _, prompts = data
    make_trace(project, prompt=prompts[0])
    assert ProjectRollup.objects.filter(project_id=project.pk, compacted=False).exists()
    listed = {p.pk: (p.n_prompts, p.n_traces) for p in projects_for_user(user=user)}
    assert not ProjectRollup.objects.filter(compacted=False, project_id__in=listed).exists()
    for p in (project, other):
        counts = direct(p)
        assert listed[p.pk] == (counts["prompts"], counts["traces"]["total"])
