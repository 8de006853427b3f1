"""A small project whose every dashboard number is known by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from reflectlab.annotations.models import Annotation
from reflectlab.projects.models import Project
from reflectlab.providers.models import ModelConfig
from reflectlab.runs.models import Run
from reflectlab.traces.analysis import chart_columns
from reflectlab.traces.models import Trace
from tests.browser.fixtures import login
from tests.factories import MembershipFactory, ProjectFactory, PromptFactory, UserFactory

__all__ = ["login"]

ALPHA, BETA = "org/alpha", "org/beta"
T0 = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)


def reflection(kind: str, transition: str | None = None) -> dict:
    return {"kind": kind, "transition": transition, "steps": [1]}


def make_trace(project: Project, **fields) -> Trace:
    """A trace with its analysis columns given directly (no analyser run)."""
    position = fields.pop("position", None)
    reflections = fields.pop("reflections", [])
    created_at = fields.pop("created_at", None)
    fields.setdefault("prompt", PromptFactory(project=project))
    fields.setdefault(
        "analysis",
        {"metrics": {"first_candidate_position": position}, "reflections": reflections},
    )
    fields.setdefault("has_reflection", fields.get("n_reflection_steps", 0) > 0)
    fields.setdefault("has_corrective", any(r["kind"] == "corrective" for r in reflections))
    # The chart columns, as the analysis fills them from its result.
    for name, value in chart_columns(fields["analysis"]).items():
        fields.setdefault(name, value)
    trace = Trace.objects.create(project=project, **fields)
    if created_at:
        Trace.objects.filter(pk=trace.pk).update(created_at=created_at)
        trace.created_at = created_at
    return trace


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The dashboards cache rows by project and newest ids, which a rolled-back test reuses."""
    cache.clear()
    yield
    cache.clear()


@dataclass
class Known:
    project: Project
    traces: dict[str, Trace]
    users: dict
    run: Run


@pytest.fixture
def known(db, user) -> Known:
    """Two models, a branch, annotations by two people, and noise in another project.

    alpha: a1 (0 reflections, right, first answer at 5 %), a2 (2, wrong, 55 %),
           a3 (5, right, 100 %), and b-branch of a2 with a 23-character hint
           over 1000 thinking characters (2.3 %) that became right.
    beta:  b1 (1 reflection, right, no candidate), b2 (17, ungraded, truncated,
           no analysis).
    """
    project = ProjectFactory(overlap=2)
    MembershipFactory(project=project, user=user, role="manager")
    config = ModelConfig.objects.create(project=project, name="alpha", model=ALPHA)
    run = Run.objects.create(project=project, model_config=config)
    on_run = {"run": run, "origin": Trace.Origin.RUN, "sample_index": 0}
    t = {}
    t["a1"] = make_trace(
        project,
        model_name=ALPHA,
        n_reflection_steps=0,
        reflection_share=0.0,
        final_correct=True,
        position=0.05,
        thinking_chars=400,
        created_at=T0,
        **on_run,
    )
    t["a2"] = make_trace(
        project,
        model_name=ALPHA,
        n_reflection_steps=2,
        reflection_share=0.32,
        final_correct=False,
        position=0.55,
        thinking_chars=1000,
        reflections=[reflection("confirmatory", "F→F"), reflection("pre_answer")],
        created_at=T0 + timedelta(seconds=35),
        **on_run,
    )
    t["a3"] = make_trace(
        project,
        model_name=ALPHA,
        n_reflection_steps=5,
        reflection_share=0.52,
        final_correct=True,
        position=1.0,
        thinking_chars=2000,
        reflections=[reflection("corrective", "F→T"), reflection("confirmatory", "T→T")],
        created_at=datetime(2026, 3, 3, 9, 0, tzinfo=UTC),
    )
    t["b1"] = make_trace(
        project,
        model_name=BETA,
        n_reflection_steps=1,
        reflection_share=0.12,
        final_correct=True,
        position=None,
        thinking_chars=300,
        reflections=[reflection("trailing")],
        created_at=T0,
    )
    t["b2"] = make_trace(
        project,
        model_name=BETA,
        n_reflection_steps=17,
        reflection_share=0.99,
        final_correct=None,
        truncated=True,
        analysis=None,
        thinking_chars=5000,
        created_at=T0,
    )
    t["branch"] = make_trace(
        project,
        model_name=ALPHA,
        parent=t["a2"],
        prompt=t["a2"].prompt,
        hint="h" * 23,
        origin=Trace.Origin.REGENERATION,
        n_reflection_steps=9,
        final_correct=True,
        created_at=T0,
    )
    # Noise: another project's trace, and a pending trace of this one.
    make_trace(ProjectFactory(), model_name=ALPHA, n_reflection_steps=3, final_correct=True)
    make_trace(project, model_name=ALPHA, state=Trace.State.PENDING, n_reflection_steps=4)

    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    for person in (alice, bob):
        MembershipFactory(project=project, user=person, role="annotator")
    submitted = datetime(2026, 3, 2, 11, 15, 10, tzinfo=UTC)
    Annotation.objects.create(
        project=project,
        trace=t["a1"],
        annotator=alice,
        state="submitted",
        submitted_at=submitted,
        time_spent_seconds=60,
        first_error_step=-1,
        verdict="correct",
    )
    Annotation.objects.create(
        project=project,
        trace=t["a2"],
        annotator=alice,
        state="submitted",
        submitted_at=submitted,
        time_spent_seconds=120,
        first_error_step=2,
        verdict="incorrect",
    )
    Annotation.objects.create(
        project=project, trace=t["a3"], annotator=alice, state="draft", time_spent_seconds=30
    )
    Annotation.objects.create(
        project=project,
        trace=t["a1"],
        annotator=bob,
        state="accepted",
        submitted_at=datetime(2026, 3, 2, 11, 16, tzinfo=UTC),
        time_spent_seconds=90,
        first_error_step=-1,
        verdict="correct",
    )
    return Known(project=project, traces=t, users={"alice": alice, "bob": bob}, run=run)
