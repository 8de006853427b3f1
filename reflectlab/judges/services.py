"""Judges, their prompt versions and runs; what annotators do with suggestions.

A judge run is created here (items for every selected trace x sample, in the
same transaction) and enqueued after commit on the ``models`` queue; a worker
executes it with ``execution.JudgeExecutor`` — the runs' engine — and closes
it with ``judge_run_finalize``. Cancelling, resuming after a dead worker and
progress work as for runs (``reflectlab.runs.services``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from reflectlab.annotations.models import Annotation
from reflectlab.annotations.services import annotation_get_or_create, annotation_save
from reflectlab.judges import folding, routing, templates
from reflectlab.judges.enqueue import judge_run_enqueue
from reflectlab.judges.execution import JudgeExecutor
from reflectlab.judges.models import (
    MAX_SAMPLES,
    AssistSettings,
    Judge,
    JudgeItem,
    JudgePrompt,
    JudgeRun,
    Suggestion,
    SuggestionOutcome,
)
from reflectlab.projects.models import Project
from reflectlab.providers.models import ModelConfig
from reflectlab.review.policy import project_policy
from reflectlab.review.queue import queue_sync
from reflectlab.runs.lifecycle import creator, job_cancel, job_create, job_finalize, job_work
from reflectlab.traces.filters import TraceFilterSet
from reflectlab.traces.models import Trace
from reflectlab.traces.selectors import trace_list

logger = logging.getLogger(__name__)

MAX_ITEMS = 500_000
ITEM_BATCH = 1000


# -- judges and prompt versions ----------------------------------------------------


def _check_samples(samples: int) -> None:
    if not 1 <= samples <= MAX_SAMPLES:
        raise ValidationError(
            {"samples_per_trace": f"Choose between 1 and {MAX_SAMPLES} samples per trace."}
        )


def _check_config(project: Project, config: ModelConfig) -> None:
    if config.project_id != project.pk:
        raise ValidationError({"model_config": "This model config belongs to another project."})


def _check_template(template: str) -> None:
    try:
        templates.template_check(template)
    except templates.TemplateError as exc:
        raise ValidationError({"template": str(exc)}) from None


def judge_create(
    *,
    project: Project,
    name: str,
    kind: str,
    model_config: ModelConfig,
    user,
    samples_per_trace: int = 1,
    template: str = "",
) -> Judge:
    """A judge with its first prompt version (the kind's built-in template by default)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the judge."})
    if kind not in Judge.Kind.values:
        raise ValidationError({"kind": f"Choose one of {', '.join(Judge.Kind.values)}."})
    _check_config(project, model_config)
    _check_samples(samples_per_trace)
    template = template or templates.DEFAULTS[kind]
    _check_template(template)
    if Judge.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": "A judge of this name exists in the project."})
    with transaction.atomic():
        judge = Judge.objects.create(
            project=project,
            name=name,
            kind=kind,
            model_config=model_config,
            samples_per_trace=samples_per_trace,
            created_by=creator(user),
        )
        JudgePrompt.objects.create(
            judge=judge, version=1, template=template, created_by=creator(user)
        )
    return judge


def judge_update(
    *,
    judge: Judge,
    model_config: ModelConfig | None = None,
    samples_per_trace: int | None = None,
    name: str | None = None,
) -> Judge:
    """Change what a judge runs with; past runs keep the config they used."""
    changes: dict[str, Any] = {}
    if model_config is not None:
        _check_config(judge.project, model_config)
        changes["model_config"] = model_config
    if samples_per_trace is not None:
        _check_samples(samples_per_trace)
        changes["samples_per_trace"] = samples_per_trace
    if name is not None:
        name = name.strip()
        if not name:
            raise ValidationError({"name": "Name the judge."})
        if (
            Judge.objects.filter(project_id=judge.project_id, name=name)
            .exclude(pk=judge.pk)
            .exists()
        ):
            raise ValidationError({"name": "A judge of this name exists in the project."})
        changes["name"] = name
    for field, value in changes.items():
        setattr(judge, field, value)
    if changes:
        judge.save(update_fields=list(changes))
    return judge


def judge_prompt_add(*, judge: Judge, template: str, user) -> JudgePrompt:
    """A new prompt version. Versions are never edited: the runs that used one,
    and the suggestions they made, keep pointing at the exact text."""
    _check_template(template)
    with transaction.atomic():
        # Lock the judge row so two authors cannot both write version n+1.
        Judge.objects.select_for_update().filter(pk=judge.pk).first()
        latest = judge.prompts.aggregate(v=Max("version"))["v"] or 0
        last = judge.prompts.filter(version=latest).first()
        if last is not None and last.template == template:
            return last
        return JudgePrompt.objects.create(
            judge=judge, version=latest + 1, template=template, created_by=creator(user)
        )


def judge_prompt_latest(*, judge: Judge) -> JudgePrompt:
    return judge.prompts.order_by("-version").first()


# -- judge runs -------------------------------------------------------------------


def judge_run_traces(
    *, project: Project, trace_ids: list[int] | None = None, filters: dict | None = None
) -> QuerySet[Trace]:
    """The traces a judge run covers: finished ones with steps, all / filtered / selected.

    ``filters`` are validated values (``model``, ``final_correct``), applied by
    the trace list's own FilterSet so a judge run selects what the list shows.
    """
    data = {
        key: {True: "true", False: "false"}.get(value, value)
        for key, value in (filters or {}).items()
        if value is not None
    }
    filterset = TraceFilterSet(data=data, queryset=trace_list(project=project))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    traces = filterset.qs.filter(state=Trace.State.READY, n_steps__gt=0)
    if trace_ids is not None:
        traces = traces.filter(pk__in=trace_ids)
    return traces.order_by("id")


def judge_run_create(
    *,
    judge: Judge,
    user,
    trace_ids: list[int] | None = None,
    filters: dict | None = None,
    prompt: JudgePrompt | None = None,
    samples_per_trace: int | None = None,
    enqueue: bool = True,
) -> JudgeRun:
    """Queue a judge run (the latest prompt version unless one is given)."""
    prompt = prompt or judge_prompt_latest(judge=judge)
    if prompt is None or prompt.judge_id != judge.pk:
        raise ValidationError({"prompt": "Choose a prompt version of this judge."})
    samples = samples_per_trace or judge.samples_per_trace
    _check_samples(samples)
    ids = list(
        judge_run_traces(project=judge.project, trace_ids=trace_ids, filters=filters).values_list(
            "pk", flat=True
        )
    )
    if not ids:
        raise ValidationError({"traces": "No finished traces with steps match."})
    if len(ids) * samples > MAX_ITEMS:
        raise ValidationError({"traces": f"At most {MAX_ITEMS} requests per judge run."})

    def add_items(run: JudgeRun) -> None:
        # Sample-major: every trace gets its first sample before any gets a second.
        JudgeItem.objects.bulk_create(
            [JudgeItem(run=run, trace_id=pk, sample_index=s) for s in range(samples) for pk in ids],
            batch_size=ITEM_BATCH,
        )

    return job_create(
        model=JudgeRun,
        user=user,
        items_total=len(ids) * samples,
        add_work=add_items,
        enqueue=judge_run_enqueue if enqueue else None,
        project_id=judge.project_id,
        judge=judge,
        prompt=prompt,
        model_config_id=judge.model_config_id,
        samples_per_trace=samples,
    )


def judge_run_cancel(*, run: JudgeRun) -> bool:
    """Compare-and-set; pending items are cancelled, requests in flight finish."""
    return job_cancel(job=run)


def judge_run_finalize(*, run_id: int) -> bool:
    """Close a running judge run whose items are all finished (compare-and-set)."""
    if not job_finalize(model=JudgeRun, job_id=run_id):
        return False
    project = JudgeRun.objects.select_related("project").get(pk=run_id).project
    if set(project_policy(project).order) & set(routing.ORDER_KEYS):
        queue_sync(project=project, full=True)  # the new suggestions move traces
    return True


def judge_run_execute(*, run_id: int) -> JudgeRun:
    """Work on a judge run until no item is left to claim; safe to call any number of times."""
    started = JudgeRun.objects.filter(pk=run_id, state=JudgeRun.State.QUEUED).update(
        state=JudgeRun.State.RUNNING, started_at=timezone.now()
    )
    run = JudgeRun.objects.select_related("model_config", "project", "judge", "prompt").get(
        pk=run_id
    )
    if run.state != JudgeRun.State.RUNNING:
        return run
    if started:  # the analyser's suggestions for the same traces, to compare with the judge's
        _analyser_ensure(run)
    job_work(job=run, executor=JudgeExecutor, finalize=judge_run_finalize)
    return JudgeRun.objects.get(pk=run_id)


def _analyser_ensure(run: JudgeRun) -> None:
    trace_ids = JudgeItem.objects.filter(run_id=run.pk, sample_index=0).values("trace_id")
    traces = Trace.objects.filter(pk__in=trace_ids).only("id", "project_id", "analysis", "logprobs")
    folding.analyser_suggestions_ensure(traces=traces.iterator(chunk_size=200))


def judge_runs_resume() -> int:
    """Enqueue every unfinished judge run again (a worker started); duplicates are harmless."""
    ids = list(
        JudgeRun.objects.filter(
            state__in=[JudgeRun.State.QUEUED, JudgeRun.State.RUNNING]
        ).values_list("pk", flat=True)
    )
    for run_id in ids:
        judge_run_enqueue(run_id, on_commit=False)
    return len(ids)


# -- suggestions in the workspace ---------------------------------------------------


def assist_settings(*, project: Project) -> AssistSettings:
    settings, _ = AssistSettings.objects.get_or_create(project=project)
    return settings


def assist_settings_update(
    *, project: Project, suggestion_mode: str | None = None, low_confidence: float | None = None
) -> AssistSettings:
    settings = assist_settings(project=project)
    if suggestion_mode is not None:
        if suggestion_mode not in AssistSettings.Mode.values:
            raise ValidationError(
                {"suggestion_mode": f"Choose one of {', '.join(AssistSettings.Mode.values)}."}
            )
        settings.suggestion_mode = suggestion_mode
    if low_confidence is not None:
        if not 0 <= low_confidence <= 1:
            raise ValidationError({"low_confidence": "Give a share between 0 and 1."})
        settings.low_confidence = low_confidence
    settings.save()
    return settings


def suggestion_changes(suggestion: Suggestion) -> dict[str, Any]:
    """The annotation fields a suggestion fills in when accepted."""
    if not suggestion.is_parsed:
        raise ValidationError("This suggestion could not be read; there is nothing to accept.")
    changes: dict[str, Any] = {}
    if suggestion.first_error_step is not None:
        changes["first_error_step"] = suggestion.first_error_step
    if suggestion.step_labels:
        changes["step_labels"] = dict(suggestion.step_labels)
    if suggestion.verdict:
        changes["verdict"] = suggestion.verdict
    if suggestion.critique:
        changes["critique"] = suggestion.critique
    if suggestion.hint:
        changes["hint"] = suggestion.hint
        step = suggestion.hint_step
        if step is None and (suggestion.first_error_step or -1) >= 0:
            step = suggestion.first_error_step
        if step is not None and step >= 0:
            changes["hint_step"] = step
    if not changes:
        raise ValidationError("This suggestion carries no value an annotation can take.")
    return changes


def suggestion_accept(*, suggestion: Suggestion, user, version: int) -> Annotation:
    """Fill the user's draft with the suggestion (a compare-and-set save: a stale
    ``version`` raises annotations' Conflict) and record it as accepted."""
    changes = suggestion_changes(suggestion)
    annotation = annotation_get_or_create(trace=suggestion.trace, user=user)
    with transaction.atomic():
        annotation = annotation_save(
            annotation_id=annotation.pk, user=user, version=version, changes=changes
        )
        SuggestionOutcome.objects.update_or_create(
            suggestion=suggestion,
            annotation=annotation,
            defaults={"outcome": SuggestionOutcome.Outcome.ACCEPTED, "taken": True},
        )
    return annotation


def suggestion_ignore(*, suggestion: Suggestion, user) -> SuggestionOutcome:
    """Record that the user saw the suggestion and did not take it."""
    annotation = annotation_get_or_create(trace=suggestion.trace, user=user)
    outcome, _ = SuggestionOutcome.objects.update_or_create(
        suggestion=suggestion,
        annotation=annotation,
        defaults={"outcome": SuggestionOutcome.Outcome.IGNORED, "taken": False},
    )
    return outcome


def _matches(suggestion: Suggestion, annotation: Annotation) -> bool:
    try:
        changes = suggestion_changes(suggestion)
    except ValidationError:
        return False
    return all(getattr(annotation, field) == value for field, value in changes.items())


def suggestion_outcomes_settle(*, annotation: Annotation, shown: bool) -> int:
    """At submit: what became of each suggestion for this trace.

    ``shown`` (the project's pre-fill mode): taken and submitted as suggested →
    accepted; taken, then edited → changed; never taken → ignored. Hidden mode:
    every suggestion is ``hidden`` (it could not anchor the annotator).
    """
    outcomes = {
        o.suggestion_id: o
        for o in SuggestionOutcome.objects.filter(annotation=annotation).select_related(
            "suggestion"
        )
    }
    settled = 0
    for suggestion in Suggestion.objects.filter(trace_id=annotation.trace_id, parse_state="parsed"):
        previous = outcomes.get(suggestion.pk)
        if not shown:
            value = SuggestionOutcome.Outcome.HIDDEN
        elif previous is not None and previous.taken:
            value = (
                SuggestionOutcome.Outcome.ACCEPTED
                if _matches(suggestion, annotation)
                else SuggestionOutcome.Outcome.CHANGED
            )
        else:
            value = SuggestionOutcome.Outcome.IGNORED
        SuggestionOutcome.objects.update_or_create(
            suggestion=suggestion,
            annotation=annotation,
            defaults={"outcome": value, "taken": bool(previous and previous.taken)},
        )
        settled += 1
    return settled


def suggestion_outcomes_on_submit(*, annotation_id: int) -> int:
    """Called by the submit paths (page and API) right after a submit."""
    annotation = Annotation.objects.select_related("project").get(pk=annotation_id)
    mode = (
        AssistSettings.objects.filter(project_id=annotation.project_id)
        .values_list("suggestion_mode", flat=True)
        .first()
    )
    return suggestion_outcomes_settle(
        annotation=annotation, shown=mode == AssistSettings.Mode.PREFILL
    )


def analyser_suggestions_ensure(*, traces) -> int:
    return folding.analyser_suggestions_ensure(traces=traces)
