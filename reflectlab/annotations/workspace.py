"""The annotation workspace: one room for the trace page and everything it posts.

The page (``trace_detail``), its branch panel (``branch_detail``) and the
endpoints its annotation panel posts to (autosave, submit, regenerate from a
hint) share one context builder, so they live together.

Why in ``annotations`` and not ``traces``: the workspace is where an
annotation is made, and it needs both apps, while ``traces`` is a lower layer
that runs, prompts, review and exports build on and that must not know about
annotations. With the room here, imports go one way (annotations → traces);
only the URL table of ``traces`` points at these views, so the page keeps its
names and paths (``traces:detail``, ``traces:branch``) that the rest of the
site links to.

Each endpoint works from a plain form post (no JavaScript) and answers JSON
when the workspace script asks for it (``Accept: application/json``).
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from reflectlab.annotations import selectors, services
from reflectlab.annotations.forms import AnnotationSaveForm, RegenerateForm, StepEditForm
from reflectlab.annotations.models import Annotation
from reflectlab.annotations.step_edits import step_edit_apply, trace_steps
from reflectlab.core.access import object_for
from reflectlab.core.errors import Conflict, conflict_response
from reflectlab.core.htmx import stop_polling
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.judges.services import suggestion_outcomes_on_submit
from reflectlab.projects.models import Membership
from reflectlab.review.claims import queue_next
from reflectlab.traces import selectors as trace_selectors
from reflectlab.traces.forms import StepRangeForm, TracePageForm
from reflectlab.traces.models import Trace
from reflectlab.traces.overlay import sections
from reflectlab.traces.presenters import present_trace
from reflectlab.traces.step_html import steps_fragment_html

PAGE = "annotations/workspace.html"
BRANCH = f"{PAGE}#branch"

EMPTY_ANNOTATION = {
    "id": None,
    "state": Annotation.State.DRAFT,
    "version": 1,
    "step_labels": {},
    "first_error_step": None,
    "error_category": "",
    "hint": "",
    "hint_step": None,
    "branch": None,
    "critique": "",
    "verdict": "",
    "violated_principles": [],
    "step_reasons": {},
    "replacement_step": "",
    "replacement_alternatives": [],
    "flawed_process": False,
    "exit_reason": "",
    "reflection_quality": {},
    "time_spent_seconds": 0,
}


# -- context ---------------------------------------------------------------------


def workspace_context(
    *,
    trace: Trace,
    membership: Membership,
    annotation: Annotation | None,
    form_state: dict | None = None,
    conflict: dict | None = None,
    folds_open: bool = False,
) -> dict:
    """Everything the workspace template needs, in a fixed number of queries.

    Closed folds of a long trace are drawn empty and load from ``steps_url``
    when opened; ``folds_open`` draws them all (the page without scripts).
    """
    state = services.annotation_state(annotation) if annotation else {**EMPTY_ANNOTATION}
    if form_state:
        state = {**state, **form_state}
    # A rejected annotation is back with its author to revise (issue 14).
    editable = trace.parent_id is None and state["state"] in Annotation.REOPENABLE
    steps = trace_steps(trace=trace)
    view = present_trace(
        trace,
        labels=state["step_labels"],
        first_error=state["first_error_step"],
        steps=steps,
        editable=editable,
    )
    branches = [branch_item(b) for b in selectors.trace_branches(trace=trace)]
    episodes = _episodes(view)
    return {
        "project": trace.project,
        "membership": membership,
        "trace": trace,
        "view": view,
        "steps_url": steps_url(trace, split=editable),
        "folds_open": folds_open,
        "metrics": view.metrics,
        "branches": branches,
        "ann": state,
        "labels_json": json.dumps(state["step_labels"] or {}),
        "reasons_json": json.dumps(state["step_reasons"] or {}),
        "quality_json": json.dumps(state["reflection_quality"] or {}),
        "legend": step_legend(view.metrics),
        "editable": editable,
        "rejection": selectors.annotation_rejection(annotation=annotation),
        "conflict": conflict,
        "episodes": episodes,
        "episodes_judged": len(state["reflection_quality"] or {}),
        "quality_choices": Annotation.Quality.choices,
        "exit_choices": Annotation.ExitReason.choices[1:],
        "reasons": [
            (int(k), v) for k, v in sorted((state["step_reasons"] or {}).items(), key=_int_key)
        ],
        "alternatives_text": "\n---\n".join(state["replacement_alternatives"] or []),
        "workspace": {
            "trace": trace.pk,
            "nSteps": view.n_steps,
            "annotation": state,
            "sections": [list(s) for s in sections(steps)],
            "episodes": episodes,
            # Per step: its start offset (a merge names it) and its sentence starts
            # (where x may split) — here once, not as 1,200 attributes to render.
            "stepStarts": [s["start"] for s in steps],
            "splitPoints": _split_points(view) if editable else [],
            "urls": {
                "steps": reverse("annotations:steps", args=[trace.pk]),
                "save": reverse("annotations:save", args=[trace.pk]),
                "submit": reverse("annotations:submit", args=[trace.pk]),
                "regenerate": reverse("annotations:regenerate", args=[trace.pk]),
            },
        },
    }


def _int_key(item: tuple[str, str]) -> int:
    return int(item[0])


def _split_points(view) -> list[list[int]]:
    return [step.split_points for block in view.blocks for step in block.steps]


def _episodes(view) -> list[list[int]]:
    """The reflection episodes shown: [episode index, first step, step count]."""
    return [
        [step.episode, step.index, step.episode_steps]
        for block in view.blocks
        for step in block.steps
        if step.episode is not None
    ]


def steps_url(trace: Trace, *, split: bool = False, prefix: str = "") -> str:
    """Where the closed folds of ``trace`` drawn with ``prefix`` load their steps."""
    query = "&".join(
        q for q in (f"prefix={prefix}" if prefix else "", "split=1" if split else "") if q
    )
    url = reverse("annotations:step-range", args=[trace.pk])
    return f"{url}?{query}" if query else url


def branch_item(branch: Trace) -> dict:
    """A branch for the ``#branch`` partial: rendered steps once the worker is done."""
    pending = branch.state == Trace.State.PENDING
    prefix = f"b{branch.pk}-"
    return {
        "trace": branch,
        "view": present_trace(branch) if branch.state == Trace.State.READY else None,
        "prefix": prefix,
        "steps_url": steps_url(branch, prefix=prefix),
        # A streamed continuation's text so far (hint + continuation), while it arrives.
        "partial": branch.raw_response[branch.continuation_prefix_chars or 0 :] if pending else "",
    }


def step_legend(metrics: dict) -> list[tuple[str, str, int | None]]:
    return [
        ("reflection", "Reflection", metrics.get("reflection_steps")),
        ("transition", "Transition", metrics.get("transition_steps")),
        ("weak_reflection", "Weak reflection", metrics.get("weak_reflection_steps")),
        ("execution", "Execution", None),
    ]


def _trace(request: HtmxHttpRequest, trace_id: int) -> tuple[Trace, Membership]:
    return object_for(request.user, trace_selectors.trace_detail(trace_id=trace_id), trace_id)


def _wants_json(request: HtmxHttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _errors(exc: ValidationError) -> dict:
    return exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}


def _conflict_page(
    request: HtmxHttpRequest,
    trace: Trace,
    membership: Membership,
    form: AnnotationSaveForm,
    exc: Conflict,
) -> HttpResponse:
    """No-JS conflict: the page again, with the user's input kept and theirs shown."""
    context = workspace_context(
        trace=trace,
        membership=membership,
        annotation=exc.current,
        form_state={**form.changes(), "version": form.cleaned_data["version"]},
        conflict=services.annotation_state(exc.current),
    )
    return render(request, PAGE, context, status=409)


def _save(request: HtmxHttpRequest, trace: Trace, form: AnnotationSaveForm) -> Annotation:
    annotation = services.annotation_get_or_create(trace=trace, user=request.user)
    return services.annotation_save(
        annotation_id=annotation.pk,
        user=request.user,
        version=form.cleaned_data["version"],
        changes=form.changes(),
        elapsed_seconds=form.cleaned_data["elapsed"] or 0,
    )


# -- the page and its branch panel -------------------------------------------------


@login_required
@require_GET
def trace_detail(request: HtmxHttpRequest, trace_id: int):
    """The workspace: the trace as steps, the viewer's annotation, branches."""
    trace, membership = _trace(request, trace_id)
    annotation = Annotation.objects.filter(trace=trace, annotator_id=request.user.pk).first()
    context = workspace_context(
        trace=trace,
        membership=membership,
        annotation=annotation,
        folds_open=TracePageForm.folds_open(request.GET),
    )
    return render(request, PAGE, context)


@login_required
@require_GET
def step_range_view(request: HtmxHttpRequest, trace_id: int):
    """Steps ``[start, stop)`` for a fold opened on demand, in the page's markup.

    A fold holds only steps that were plain when the page was drawn (no label,
    no first error, no candidate), so they come without the viewer's labels;
    the page's script paints what it holds. Without htmx: the page, every fold
    drawn, at the first of these steps.
    """
    trace, _membership = _trace(request, trace_id)
    form = StepRangeForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    start, stop, prefix = (form.cleaned_data[k] for k in ("start", "stop", "prefix"))
    # A prefix is how a branch is drawn beside its parent: only this trace's, only a branch.
    if prefix not in ("", f"b{trace.pk}-") or (prefix and trace.parent_id is None):
        return HttpResponseBadRequest("prefix names another trace, or this one is no branch")
    if not request.htmx:
        page = trace.parent_id if prefix else trace.pk
        return redirect(f"{reverse('traces:detail', args=[page])}?folds=open#{prefix}s{start}")
    steps = None if prefix else trace_steps(trace=trace)
    view = present_trace(
        trace, steps=steps, editable=form.cleaned_data["split"], only=(start, stop)
    )
    return HttpResponse(steps_fragment_html(view, prefix))


@login_required
@require_GET
def branch_detail(request: HtmxHttpRequest, trace_id: int, branch_id: int):
    """One branch's panel; polled every second until the worker finishes."""
    trace, _membership = object_for(request.user, Trace.objects.all(), trace_id)
    branch = get_object_or_404(selectors.trace_branches(trace=trace), pk=branch_id)
    if request.htmx:
        response = render(request, BRANCH, {"trace": trace, "b": branch_item(branch)})
        return stop_polling(response, when=branch.state != Trace.State.PENDING)
    return redirect(f"{reverse('traces:detail', args=[trace.pk])}#branch-{branch.pk}")


# -- what the annotation panel posts ---------------------------------------------


@login_required
@require_POST
def annotation_save_view(request: HtmxHttpRequest, trace_id: int):
    """Autosave of the draft; the version in the post must be the current one."""
    trace, membership = _trace(request, trace_id)
    form = AnnotationSaveForm(request.POST, project=trace.project)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    try:
        annotation = _save(request, trace, form)
    except Conflict as exc:
        if not _wants_json(request):
            return _conflict_page(request, trace, membership, form, exc)
        return conflict_response(exc)
    except ValidationError as exc:
        return JsonResponse({"errors": _errors(exc)}, status=400)
    if _wants_json(request):
        return JsonResponse({"annotation": services.annotation_state(annotation)})
    messages.success(request, "Draft saved.")
    return redirect("traces:detail", trace_id=trace.pk)


@login_required
@require_POST
def annotation_submit_view(request: HtmxHttpRequest, trace_id: int):
    """Save what the form holds, submit it for review, open the next item."""
    trace, membership = _trace(request, trace_id)
    form = AnnotationSaveForm(request.POST, project=trace.project)
    if not form.is_valid():
        messages.error(request, "The annotation form was invalid: " + form.errors.as_text())
        return redirect("traces:detail", trace_id=trace.pk)
    try:
        annotation = _save(request, trace, form)
        services.annotation_submit(
            annotation_id=annotation.pk, user=request.user, version=annotation.version
        )
        suggestion_outcomes_on_submit(annotation_id=annotation.pk)
    except Conflict as exc:
        return _conflict_page(request, trace, membership, form, exc)
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
        return redirect("traces:detail", trace_id=trace.pk)
    returned = selectors.returned_work(project_id=trace.project_id, user=request.user)
    if returned is not None:
        messages.warning(
            request, f"Trace {returned.trace_id} came back from review: revise it first."
        )
        return redirect("traces:detail", trace_id=returned.trace_id)
    claim = queue_next(project=trace.project, user=request.user)
    if claim is None:
        messages.success(request, "Submitted. Nothing left to annotate in this project.")
        return redirect("traces:list", project_id=trace.project_id)
    messages.success(request, f"Trace {trace.pk} submitted for review. Here is the next one.")
    return redirect("traces:detail", trace_id=claim.trace_id)


@login_required
@require_POST
def annotation_regenerate_view(request: HtmxHttpRequest, trace_id: int):
    """Continue the trace from the hint at a step; the branch panel shows it pending."""
    trace, _membership = _trace(request, trace_id)
    form = RegenerateForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    data = form.cleaned_data
    try:
        annotation = services.annotation_get_or_create(trace=trace, user=request.user)
        annotation, branch = services.annotation_regenerate(
            annotation=annotation,
            user=request.user,
            version=data["version"],
            step=data["hint_step"],
            hint=data["hint"],
        )
    except Conflict as exc:
        return conflict_response(exc)
    except ValidationError as exc:
        return JsonResponse({"errors": _errors(exc)}, status=400)
    if request.htmx or _wants_json(request):
        response = render(request, BRANCH, {"trace": trace, "b": branch_item(branch)})
        response["X-Annotation-Version"] = str(annotation.version)
        return response
    messages.success(request, "Regenerating from your hint; the branch appears when ready.")
    return redirect(f"{reverse('traces:detail', args=[trace.pk])}#branch-{branch.pk}")


@login_required
@require_POST
def step_edit_view(request: HtmxHttpRequest, trace_id: int):
    """Split a step at an offset or merge a step into the one before; labels follow."""
    trace, _membership = _trace(request, trace_id)
    form = StepEditForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    try:
        edit, steps = step_edit_apply(
            trace_id=trace.pk,
            user=request.user,
            op=form.cleaned_data["op"],
            offset=form.cleaned_data["offset"],
        )
    except ValidationError as exc:
        if _wants_json(request):
            return JsonResponse({"errors": _errors(exc)}, status=400)
        for error in exc.messages:
            messages.error(request, error)
        return redirect("traces:detail", trace_id=trace.pk)
    if _wants_json(request):
        return JsonResponse({"version": edit.version, "steps": len(steps)})
    messages.success(request, f"Steps edited: {len(steps)} steps now.")
    return redirect("traces:detail", trace_id=trace.pk)
