"""Reads of judges, judge runs and suggestions shared by pages and the API."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from reflectlab.annotations.models import Annotation
from reflectlab.judges.folding import analyser_signals
from reflectlab.judges.models import (
    AssistSettings,
    Judge,
    JudgeItem,
    JudgePrompt,
    JudgeRun,
    Suggestion,
    SuggestionOutcome,
)
from reflectlab.projects.models import Membership, Project, Role
from reflectlab.traces.models import Trace


def judge_list(*, project: Project) -> QuerySet[Judge]:
    return (
        Judge.objects.filter(project=project)
        .select_related("model_config")
        .annotate(n_runs=Count("runs", distinct=True), n_versions=Count("prompts", distinct=True))
        .order_by("name", "id")
    )


def judge_detail() -> QuerySet[Judge]:
    return Judge.objects.select_related("project", "model_config")


def judge_prompts(*, judge: Judge) -> QuerySet[JudgePrompt]:
    return (
        JudgePrompt.objects.filter(judge=judge).annotate(n_runs=Count("runs")).order_by("-version")
    )


def judge_run_list(*, project: Project, judge: Judge | None = None) -> QuerySet[JudgeRun]:
    runs = JudgeRun.objects.filter(project=project).select_related(
        "judge", "prompt", "model_config"
    )
    if judge is not None:
        runs = runs.filter(judge=judge)
    return runs.order_by("-id")


def judge_run_detail() -> QuerySet[JudgeRun]:
    return JudgeRun.objects.select_related("project", "judge", "prompt", "model_config")


def judge_run_failed_items(*, run: JudgeRun, limit: int = 200) -> QuerySet[JudgeItem]:
    return (
        JudgeItem.objects.filter(run=run, state=JudgeItem.State.FAILED)
        .only("id", "trace_id", "sample_index", "attempts", "error")
        .order_by("id")[:limit]
    )


def assist_mode(*, project: Project) -> str:
    settings = AssistSettings.objects.filter(project=project).first()
    return settings.suggestion_mode if settings else AssistSettings.Mode.HIDDEN


def assist_settings_of(*, project: Project) -> AssistSettings:
    """The project's settings, or the defaults (unsaved) when none were chosen."""
    return AssistSettings.objects.filter(project=project).first() or AssistSettings(project=project)


def _submitted_traces(user) -> QuerySet[Annotation]:
    return Annotation.objects.filter(annotator_id=user.pk).exclude(state=Annotation.State.DRAFT)


def suggestions_visible(*, project: Project, membership: Membership) -> QuerySet[Suggestion]:
    """The suggestions this member may see.

    Reviewers and managers see all. Annotators see them in the project's
    pre-fill mode; in the default hidden mode only for traces they have
    submitted (against anchoring, the API keeps the same rule as the page).
    """
    suggestions = Suggestion.objects.filter(project=project).select_related("judge")
    if membership.allows(Role.REVIEWER):
        return suggestions
    if assist_mode(project=project) == AssistSettings.Mode.PREFILL:
        return suggestions
    return suggestions.filter(trace_id__in=_submitted_traces(membership.user).values("trace_id"))


@dataclass(frozen=True)
class TraceSuggestions:
    """What the workspace shows for one trace and one annotator."""

    mode: str
    visible: bool  # pre-fill mode, or hidden mode after the annotator submitted
    suggestions: list[Suggestion]
    outcomes: dict[int, str]  # suggestion id -> outcome recorded for this annotator

    @property
    def first(self) -> Suggestion | None:
        """The suggestion the accept key takes: the most confident parsed judge one."""
        judged = [s for s in self.suggestions if s.is_parsed and s.source == "judge"]
        judged.sort(key=lambda s: (-(s.confidence or 0), -s.pk))
        return judged[0] if judged else None


def trace_suggestions(*, trace: Trace, user, annotation: Annotation | None) -> TraceSuggestions:
    mode = assist_mode(project=trace.project)
    submitted = annotation is not None and annotation.state != Annotation.State.DRAFT
    visible = mode == AssistSettings.Mode.PREFILL or submitted
    suggestions = list(
        Suggestion.objects.filter(trace=trace).select_related("judge").order_by("source", "-id")
    )
    # Only the newest suggestion of each judge (older runs stay in the API).
    newest: dict[tuple, Suggestion] = {}
    for s in suggestions:
        newest.setdefault((s.source, s.judge_id, s.signal), s)
    # The analyser's signals come from the stored analysis; a judge run stores
    # them, and until one has, they are shown as read (a page never writes).
    for s in analyser_signals(trace):
        newest.setdefault((s.source, None, s.signal), s)
    outcomes = {}
    if annotation is not None:
        outcomes = dict(
            SuggestionOutcome.objects.filter(annotation=annotation).values_list(
                "suggestion_id", "outcome"
            )
        )
    for s in newest.values():
        s.my_outcome = outcomes.get(s.pk, "")  # for the template
    shown = sorted(newest.values(), key=lambda s: (s.source != Suggestion.Source.JUDGE, -s.pk))
    return TraceSuggestions(mode=mode, visible=visible, suggestions=shown, outcomes=outcomes)


def suggestion_list(*, queryset: QuerySet[Suggestion], filters: dict) -> QuerySet[Suggestion]:
    for name in ("trace", "judge", "run"):
        if filters.get(name) is not None:
            queryset = queryset.filter(**{f"{name}_id": filters[name]})
    for name in ("source", "signal", "parse_state"):
        if filters.get(name):
            queryset = queryset.filter(**{name: filters[name]})
    if filters.get("max_confidence") is not None:
        queryset = queryset.filter(confidence__lte=filters["max_confidence"])
    return queryset.order_by("id")
