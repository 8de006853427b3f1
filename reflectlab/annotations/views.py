"""Workspace endpoints: autosave, submit, regenerate from a hint.

Each works from a plain form post (no JavaScript) and answers JSON when the
workspace script asks for it (``Accept: application/json``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from reflectlab.annotations import services
from reflectlab.annotations.forms import AnnotationSaveForm, RegenerateForm
from reflectlab.core.access import object_for
from reflectlab.core.errors import conflict_response
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.review.claims import queue_next
from reflectlab.traces import selectors as trace_selectors
from reflectlab.traces.models import Trace


def _wants_json(request: HtmxHttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _errors(exc: ValidationError) -> dict:
    return exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}


def _trace(request: HtmxHttpRequest, trace_id: int):
    return object_for(request.user, trace_selectors.trace_detail(trace_id=trace_id), trace_id)


def _conflict_page(request, trace, membership, form, exc: services.Conflict):
    """No-JS conflict: the page again, with the user's input kept and theirs shown."""
    from reflectlab.traces.views import workspace_context

    context = workspace_context(
        trace=trace,
        membership=membership,
        annotation=exc.current,
        form_state={**form.changes(), "version": form.cleaned_data["version"]},
        conflict=services.annotation_state(exc.current),
    )
    return render(request, "traces/detail.html", context, status=409)


@login_required
@require_POST
def annotation_save_view(request: HtmxHttpRequest, trace_id: int):
    """Autosave of the draft; the version in the post must be the current one."""
    trace, membership = _trace(request, trace_id)
    form = AnnotationSaveForm(request.POST, project=trace.project)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    try:
        annotation = services.annotation_get_or_create(trace=trace, user=request.user)
        annotation = services.annotation_save(
            annotation_id=annotation.pk,
            user=request.user,
            version=form.cleaned_data["version"],
            changes=form.changes(),
            elapsed_seconds=form.cleaned_data["elapsed"] or 0,
        )
    except services.Conflict as exc:
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
        annotation = services.annotation_get_or_create(trace=trace, user=request.user)
        annotation = services.annotation_save(
            annotation_id=annotation.pk,
            user=request.user,
            version=form.cleaned_data["version"],
            changes=form.changes(),
            elapsed_seconds=form.cleaned_data["elapsed"] or 0,
        )
        services.annotation_submit(
            annotation_id=annotation.pk, user=request.user, version=annotation.version
        )
    except services.Conflict as exc:
        return _conflict_page(request, trace, membership, form, exc)
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
        return redirect("traces:detail", trace_id=trace.pk)
    claim = queue_next(project=trace.project, user=request.user)
    if claim is None:
        messages.success(request, "Submitted. Nothing left to annotate in this project.")
        return redirect("traces:list", project_id=trace.project_id)
    messages.success(request, f"Trace {trace.pk} submitted for review. Here is the next one.")
    return redirect("traces:detail", trace_id=claim.trace_id)


@login_required
@require_POST
def annotation_regenerate_view(request: HtmxHttpRequest, trace_id: int):
    """Continue the trace from the hint at a step; the branch column shows it pending."""
    from reflectlab.traces.views import branch_item

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
    except services.Conflict as exc:
        return conflict_response(exc)
    except ValidationError as exc:
        return JsonResponse({"errors": _errors(exc)}, status=400)
    except ImportError:
        return JsonResponse(
            {"errors": {"__all__": ["Regeneration is not available on this server yet."]}},
            status=400,
        )
    if request.htmx or _wants_json(request):
        response = render(
            request,
            "traces/detail.html#branch",
            {"trace": trace, "b": branch_item(branch)},
        )
        response["X-Annotation-Version"] = str(annotation.version)
        return response
    messages.success(request, "Regenerating from your hint; the branch appears when ready.")
    url = reverse("traces:detail", args=[trace.pk])
    return redirect(f"{url}#branch-{branch.pk}" if isinstance(branch, Trace) else url)
