"""The rollups answer exactly what the direct scans of the traces answer, after every
write path: import, generation, branch creation, re-analysis, updates and deletes."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from reflectlab.dashboards import charts, effort, rollups, selectors
from reflectlab.dashboards.filters import Filters
from reflectlab.dashboards.models import ReflectionRollup, ShareRollup
from reflectlab.prompts.models import Prompt
from reflectlab.providers.models import ModelConfig
from reflectlab.providers.openai_http import OpenAIHttpProvider
from reflectlab.runs import continuation
from reflectlab.runs import services as run_services
from reflectlab.runs.models import Run
from reflectlab.traces import services as trace_services
from reflectlab.traces.models import Trace
from tests.dashboards.conftest import make_trace, reflection
from tests.factories import ProjectFactory, PromptFactory

MODELS = ("org/alpha", "org/beta", "=cmd|x")
DAY0 = datetime(2026, 5, 1, tzinfo=UTC)
KINDS = (
    ("confirmatory", "T→T"), ("confirmatory", "F→T"), ("corrective", "F→T"),
    ("corrective", "T→F"), ("corrective", None), ("pre_answer", None), ("trailing", None),
)  # fmt: skip
OUTCOMES = ("correct", "wrong", "truncated_no_answer", "no_answer", "ungraded")


def random_trace(project, rng: random.Random, *, run=None, prompt=None, **fields) -> Trace:
    n = rng.choice([0, 0, 1, 2, 3, 5, 9, 17, 30])
    fields = {
        "model_name": rng.choice(MODELS),
        "run": run,
        "n_reflection_steps": n,
        "reflection_share": rng.choice([0.0, 0.05, 0.15, 0.35, 0.999, 1.0, rng.random()]),
        "position": rng.choice([None, 0.0, 0.1, 0.55, 0.999, 1.0, rng.random()]),
        "final_correct": rng.choice([True, False, None]),
        "truncated": rng.random() < 0.2,
        "outcome": rng.choice(OUTCOMES),
        "answer_reached_step": rng.choice([None, 3]),
        "thinking_chars": rng.randint(0, 5000),
        "reflections": [reflection(*rng.choice(KINDS)) for _ in range(rng.randint(0, 4))],
        "state": rng.choice(["ready"] * 8 + ["pending", "failed"]),
        "created_at": DAY0 + timedelta(hours=rng.randint(0, 24 * 6), seconds=rng.randint(0, 59)),
        **fields,
    }
    if prompt is not None:
        fields["prompt"] = prompt
    return make_trace(project, **fields)


def filter_sets(project) -> list[Filters]:
    runs = list(Run.objects.filter(project=project).values_list("pk", flat=True))
    days = [date(2026, 5, 1), date(2026, 5, 3), date(2026, 5, 7)]
    out = [Filters(), Filters(model=MODELS[0]), Filters(model="nobody")]
    out += [Filters(run=r) for r in runs] + [Filters(run=runs[0], model=MODELS[1])] if runs else []
    out += [
        Filters(date_from=days[1]),
        Filters(date_to=days[1]),
        Filters(date_from=days[1], date_to=days[1]),
    ]
    out += [Filters(model=MODELS[2], date_from=days[0], date_to=days[2])]
    return out


def _close(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b), (a, b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            if isinstance(x[key], float) or isinstance(y[key], float):
                assert x[key] == pytest.approx(y[key], abs=1e-9), key
            else:
                assert x[key] == y[key], (key, x, y)


def assert_rollups_exact(project) -> None:
    """Every filter: rollup rows == direct rows, and the charts derived from them agree."""
    for filters in filter_sets(project):
        direct = selectors.by_reflection_count_direct(project=project, filters=filters)
        rolled = rollups.by_reflection_count(project=project, filters=filters)
        _close(rolled, direct)
        _close(
            rollups.by_share_and_position(project=project, filters=filters),
            selectors.by_share_and_position_direct(project=project, filters=filters),
        )
        for derived in (selectors.reflection_kinds, selectors.accuracy_by_reflections):
            assert derived.derive(rolled) == derived.derive(direct)


@pytest.fixture
def data(db):
    """Random traces over a week, two projects (the other one is noise), a run."""
    rng = random.Random(16)
    project, other = ProjectFactory(), ProjectFactory()
    config = ModelConfig.objects.create(project=project, name="cfg", model=MODELS[0])
    run = Run.objects.create(project=project, model_config=config)
    prompts = [PromptFactory(project=project) for _ in range(4)]
    for i in range(120):
        random_trace(project, rng, run=run if i % 3 == 0 else None, prompt=prompts[i % 4])
    for _ in range(20):
        random_trace(other, rng)
    return project, run, prompts, rng


def test_rollups_equal_the_direct_queries_on_random_data(data):
    project, *_ = data
    assert rollups.by_reflection_count(project=project, filters=Filters())  # not vacuous
    assert_rollups_exact(project)


def test_the_selectors_read_the_rollups(data, django_assert_max_num_queries):
    project, *_ = data
    rollups.compact(ReflectionRollup, project_id=project.pk)
    rollups.compact(ShareRollup, project_id=project.pk)
    with connection.cursor() as cursor:  # the rollups are what is read: break them, see it
        cursor.execute(
            "UPDATE dashboards_reflectionrollup SET traces = traces + 1 WHERE project_id = %s",
            [project.pk],
        )
    rows = selectors.by_reflection_count(project=project, filters=Filters())
    assert (
        sum(r["traces"] for r in rows)
        == sum(
            r["traces"]
            for r in selectors.by_reflection_count_direct(project=project, filters=Filters())
        )
        + ReflectionRollup.objects.filter(project_id=project.pk).count()
    )


def test_a_non_utc_date_filter_reads_the_traces(data, settings):
    project, *_ = data
    with timezone.override("Europe/Paris"):
        filters = Filters(date_from=date(2026, 5, 2))
        assert not rollups.answers(filters)
        assert rollups.answers(Filters(model=MODELS[0]))  # no dates: any zone
        _close(
            selectors.by_reflection_count(project=project, filters=filters),
            selectors.by_reflection_count_direct(project=project, filters=filters),
        )


def test_compaction_folds_deltas_into_one_row_per_group_and_keeps_the_sums(data):
    project, *_ = data
    before = rollups.by_reflection_count(project=project, filters=Filters())  # compacts
    rollups.by_share_and_position(project=project, filters=Filters())  # and this one
    for model in (ReflectionRollup, ShareRollup):
        rows = model.objects.filter(project_id=project.pk)
        assert not rows.filter(compacted=False).exists()
        keys = [f for f in ("day", "model_name", "run_id", "n_reflection_steps", "share_bin", "position_bin") if hasattr(model, f)]  # fmt: skip
        assert rows.values(*keys).distinct().count() == rows.count()
        assert not rows.filter(traces=0).exists()
    assert rollups.by_reflection_count(project=project, filters=Filters()) == before
    rollups.rebuild(project=project)
    _close(rollups.by_reflection_count(project=project, filters=Filters()), before)


def test_import_keeps_the_rollups_exact(data):
    project, *_ = data
    records = [
        {
            "external_id": f"imp-{i}",
            "model": MODELS[i % 2],
            "response": "Let me see.\n\nWait, 2 + 2 = 4.\n</think>\nThe answer is \\boxed{4}."
            if i % 2
            else "So it is 5.\n</think>\n\\boxed{5}",
            "reasoning": "",
            "finish_reason": "stop",
            "prompt_tokens": None,
            "completion_tokens": None,
            "prompt": {
                "external_id": f"ip-{i}",
                "text": "2 + 2?",
                "reference_answer": "4",
                "metadata": {},
            },
        }
        for i in range(30)
    ]
    written, _ = trace_services.traces_write(project=project, records=records)
    assert written == 30
    assert_rollups_exact(project)
    trace_services.traces_write(project=project, records=records)  # re-import: skipped
    assert_rollups_exact(project)


def test_generation_updates_and_state_changes_keep_the_rollups_exact(data):
    project, run, prompts, rng = data
    # A run writes pending traces, then fills them in (queryset update and save).
    pending = [
        random_trace(project, rng, run=run, state="pending", prompt=prompts[0]) for _ in range(5)
    ]
    assert_rollups_exact(project)
    Trace.objects.filter(pk__in=[t.pk for t in pending[:3]]).update(state="ready")
    assert_rollups_exact(project)
    pending[3].state, pending[3].final_correct, pending[3].model_name = "ready", True, MODELS[2]
    pending[3].save()
    assert_rollups_exact(project)
    Trace.objects.filter(project=project, model_name=MODELS[0]).update(
        created_at=DAY0 + timedelta(days=2)
    )
    assert_rollups_exact(project)


def test_reanalysis_keeps_the_rollups_exact(data):
    project, *_ = data
    Prompt.objects.filter(project=project).update(reference_answer="4")
    Trace.objects.filter(project=project).update(
        raw_response="Hmm.\n\nWait, let me check: 2 + 2 = 4.\n</think>\n\\boxed{4}"
    )
    assert trace_services.traces_reanalyze(project=project, force=True) > 0  # bulk_update
    assert_rollups_exact(project)
    one = Trace.objects.filter(project=project).first()
    one.raw_response = "No reflection.\n</think>\n\\boxed{7}"
    trace_services.trace_analyze(trace=one)  # save(update_fields=...)
    assert_rollups_exact(project)


def test_deletes_and_cascades_keep_the_rollups_exact(data):
    project, run, prompts, _ = data
    Trace.objects.filter(project=project, model_name=MODELS[1]).first().delete()
    assert_rollups_exact(project)
    prompts[1].delete()  # cascades to its traces
    assert_rollups_exact(project)
    run.delete()  # cascades to the run's traces
    assert_rollups_exact(project)
    pk = project.pk
    project.delete()
    for model in (ReflectionRollup, ShareRollup):
        rollups.compact(model, project_id=pk)
        assert not model.objects.filter(project_id=pk).exists()


@pytest.fixture
def fake_model(monkeypatch):
    body = {"choices": [{"message": {"role": "assistant", "content": "\n</think>\n\\boxed{4}"}, "finish_reason": "stop"}]}  # fmt: skip
    monkeypatch.setattr(
        continuation,
        "provider_for",
        lambda config: OpenAIHttpProvider(
            base_url="http://model/v1",
            transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)),
        ),
    )


def test_branches_carry_their_parents_grading_and_follow_its_changes(data, user, fake_model):
    project, *_ = data
    config = ModelConfig.objects.create(
        project=project, name="b", model="org/alpha", base_url="http://model/v1",
        continuation_mode="user_turn",
    )  # fmt: skip
    parent = make_trace(
        project, model_name=MODELS[0], final_correct=False, thinking_chars=1000,
        analysis={"steps": [{"index": 0, "start": 0, "end": 5}, {"index": 1, "start": 7, "end": 12}]},
        raw_response="2 + 2\n\n= 5\n</think>\n\\boxed{5}",
    )  # fmt: skip
    before = selectors.by_reflection_count_direct(project=project, filters=Filters())
    branch = run_services.trace_regenerate(
        trace=parent, step_index=1, hint="Add again.", user=user, model_config=config
    )
    assert (branch.parent_final_correct, branch.parent_thinking_chars) == (False, 1000)
    branch = run_services.trace_continue(branch_id=branch.pk, config_id=config.pk)
    assert branch.state == Trace.State.READY, branch.error
    branch.refresh_from_db()
    assert (branch.parent_final_correct, branch.parent_thinking_chars) == (False, 1000)
    # A branch is no first-generation trace: the reflection charts do not move.
    assert selectors.by_reflection_count_direct(project=project, filters=Filters()) == before
    assert_rollups_exact(project)
    rows = effort.hint_success(project=project, filters=Filters())
    assert [r["parent_wrong"] for r in rows] == [1]

    # The parent is re-graded (a re-analysis, an update): its branches follow.
    Trace.objects.filter(pk=parent.pk).update(final_correct=True, thinking_chars=400)
    branch.refresh_from_db()
    assert (branch.parent_final_correct, branch.parent_thinking_chars) == (True, 400)
    # A stale instance saved later cannot write the old copy back.
    stale = Trace.objects.get(pk=branch.pk)
    stale.parent_final_correct, stale.parent_thinking_chars = False, 1000
    stale.save()
    branch.refresh_from_db()
    assert (branch.parent_final_correct, branch.parent_thinking_chars) == (True, 400)
    assert effort.hint_success(project=project, filters=Filters())[0]["parent_wrong"] == 0


def test_the_hint_charts_match_the_join_they_replaced(data, user):
    project, _, _, rng = data
    parents = list(Trace.objects.filter(project=project, parent__isnull=True)[:12])
    for i, parent in enumerate(parents):
        make_trace(
            project, parent=parent, model_name=parent.model_name, hint="h" * (5 + i * 3),
            final_correct=rng.choice([True, False, None]), origin="regeneration", external_id=None,
        )  # fmt: skip
    rows = effort.hint_success(project=project, filters=Filters())
    joined = {}
    for b in Trace.objects.filter(
        project=project, parent__isnull=False, state="ready"
    ).select_related("parent"):
        r = joined.setdefault(b.model_name, [0, 0, 0])
        r[0] += b.parent.final_correct is False
        r[1] += b.parent.final_correct is False and b.final_correct is True
        r[2] += b.parent.final_correct is True and b.final_correct is False
    assert {r["model"]: [r["parent_wrong"], r["fixed"], r["broken"]] for r in rows} == joined
    shares = [
        len(b.hint) / b.parent.thinking_chars
        for b in Trace.objects.filter(
            project=project, parent__isnull=False, state="ready"
        ).select_related("parent")
        if b.hint and b.parent.thinking_chars
    ]
    assert sum(r["branches"] for r in effort.hint_size(project=project, filters=Filters())) == len(
        shares
    )
    assert json.dumps(rows)  # plain rows


def test_the_reflection_page_shows_a_reanalysis_at_once(data):
    """Before the rollups, the page cached its rows under the newest trace id, so an
    edit of existing traces showed only after five minutes."""
    project, *_ = data
    first = charts.RowCache(project, Filters()).get(selectors.summary)
    Trace.objects.filter(project=project, state="ready", parent__isnull=True).update(
        final_correct=True
    )
    second = charts.RowCache(project, Filters()).get(selectors.summary)
    assert first["correct"] < second["correct"] == second["graded"] == second["traces"]
