from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from reflectlab.annotations import selectors as annotation_selectors
from reflectlab.annotations.models import Annotation
from reflectlab.annotations.services import annotation_state
from reflectlab.core.access import object_for, project_view
from reflectlab.core.htmx import stop_polling
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.traces import selectors
from reflectlab.traces.forms import TraceFilterForm
from reflectlab.traces.models import Trace
from reflectlab.traces.presenters import present_trace

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
    "time_spent_seconds": 0,
}


@project_view()
@require_GET
def trace_list(request: HtmxHttpRequest, project_id: int):
    form = TraceFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("Invalid filters: " + form.errors.as_text())
    filters = form.cleaned_data
    page = Paginator(selectors.trace_list(project=request.project, filters=filters), 50).get_page(
        filters.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "project": request.project,
        "page": page,
        "form": form,
        "models": selectors.model_names(project=request.project),
        "query": query.urlencode(),
    }
    template = "traces/list.html#trace-table" if request.htmx else "traces/list.html"
    return render(request, template, context)


@login_required
@require_GET
def trace_detail(request: HtmxHttpRequest, trace_id: int):
    """The annotation workspace: the trace as steps, the viewer's annotation, branches."""
    trace, membership = object_for(
        request.user, selectors.trace_detail(trace_id=trace_id), trace_id
    )
    annotation = Annotation.objects.filter(trace=trace, annotator_id=request.user.pk).first()
    return render(
        request,
        "traces/detail.html",
        workspace_context(trace=trace, membership=membership, annotation=annotation),
    )


def workspace_context(
    *,
    trace: Trace,
    membership,
    annotation: Annotation | None,
    form_state: dict | None = None,
    conflict: dict | None = None,
) -> dict:
    """Everything the workspace template needs, in a fixed number of queries."""
    state = annotation_state(annotation) if annotation else {**EMPTY_ANNOTATION}
    if form_state:
        state = {**state, **form_state}
    view = present_trace(trace, labels=state["step_labels"], first_error=state["first_error_step"])
    branches = [branch_item(b) for b in annotation_selectors.trace_branches(trace=trace)]
    return {
        "project": trace.project,
        "membership": membership,
        "trace": trace,
        "view": view,
        "metrics": view.metrics,
        "branches": branches,
        "ann": state,
        "labels_json": json.dumps(state["step_labels"] or {}),
        "legend": _legend(view.metrics),
        "editable": trace.parent_id is None and state["state"] == Annotation.State.DRAFT,
        "conflict": conflict,
        "workspace": {
            "trace": trace.pk,
            "nSteps": view.n_steps,
            "annotation": state,
            "urls": {
                "save": reverse("annotations:save", args=[trace.pk]),
                "submit": reverse("annotations:submit", args=[trace.pk]),
                "regenerate": reverse("annotations:regenerate", args=[trace.pk]),
            },
        },
    }


def branch_item(branch: Trace) -> dict:
    """A branch for the ``#branch`` partial: rendered steps once the worker is done."""
    return {
        "trace": branch,
        "view": present_trace(branch) if branch.state == Trace.State.READY else None,
        "prefix": f"b{branch.pk}-",
    }


def _legend(metrics: dict) -> list[tuple[str, str, int | None]]:
    return [
        ("reflection", "Reflection", metrics.get("reflection_steps")),
        ("transition", "Transition", metrics.get("transition_steps")),
        ("weak_reflection", "Weak reflection", metrics.get("weak_reflection_steps")),
        ("execution", "Execution", None),
    ]


@login_required
@require_GET
def branch_detail(request: HtmxHttpRequest, trace_id: int, branch_id: int):
    """One branch's panel; polled every second until the worker finishes."""
    trace, _membership = object_for(request.user, Trace.objects.all(), trace_id)
    branch = get_object_or_404(annotation_selectors.trace_branches(trace=trace), pk=branch_id)
    context = {"trace": trace, "b": branch_item(branch)}
    if request.htmx:
        response = render(request, "traces/detail.html#branch", context)
        return stop_polling(response, when=branch.state != Trace.State.PENDING)
    return redirect(f"{reverse('traces:detail', args=[trace.pk])}#branch-{branch.pk}")
