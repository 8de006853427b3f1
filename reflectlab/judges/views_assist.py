"""The workspace's model assistance: the suggestions panel, accepting one with a
key, dismissing it, and the hint memory beside the hint box.

The panel and the memory are htmx partials the workspace loads into its side
bar; accepting answers JSON to the workspace script (``static/js/assist.js``),
which saves the draft first so the accept carries the current version.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from reflectlab.annotations.models import Annotation
from reflectlab.annotations.services import annotation_state
from reflectlab.core.access import object_for
from reflectlab.core.errors import Conflict, conflict_response
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.judges import memory, selectors, services
from reflectlab.judges.models import Suggestion
from reflectlab.traces.models import Trace


def _panel(request, trace, membership):
    annotation = Annotation.objects.filter(trace=trace, annotator_id=request.user.pk).first()
    found = selectors.trace_suggestions(trace=trace, user=request.user, annotation=annotation)
    settings = selectors.assist_settings_of(project=trace.project)
    return render(
        request,
        "judges/_assist.html#assist-panel",
        {
            "trace": trace,
            "assist": found,
            "low_confidence": settings.low_confidence,
            "membership": membership,
            "annotation": annotation,
        },
    )


@login_required
@require_GET
def assist_panel(request: HtmxHttpRequest, trace_id: int):
    trace, membership = object_for(request.user, Trace.objects.select_related("project"), trace_id)
    return _panel(request, trace, membership)


def _suggestion(request, suggestion_id: int):
    suggestion, membership = object_for(
        request.user, Suggestion.objects.select_related("trace__project", "project"), suggestion_id
    )
    visible = selectors.suggestions_visible(project=suggestion.project, membership=membership)
    if not visible.filter(pk=suggestion.pk).exists():
        raise ValidationError("Suggestions are hidden until you submit your annotation.")
    return suggestion, membership


@login_required
@require_POST
def suggestion_take(request: HtmxHttpRequest, suggestion_id: int):
    """Accept: fill the draft with the suggestion (compare-and-set on ``version``)."""
    version = request.POST.get("version", "")
    if not version.isdigit() or len(version) > 9:
        return JsonResponse(
            {"errors": {"version": ["Give your annotation's version."]}}, status=400
        )
    try:
        suggestion, _ = _suggestion(request, suggestion_id)
        annotation = services.suggestion_accept(
            suggestion=suggestion, user=request.user, version=int(version)
        )
    except Conflict as exc:
        return conflict_response(exc)
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        return JsonResponse({"errors": errors}, status=400)
    return JsonResponse({"annotation": annotation_state(annotation)})


@login_required
@require_POST
def suggestion_dismiss(request: HtmxHttpRequest, suggestion_id: int):
    """Ignore: recorded, and the panel comes back without the accept button."""
    try:
        suggestion, membership = _suggestion(request, suggestion_id)
    except ValidationError as exc:
        return JsonResponse({"errors": {"__all__": exc.messages}}, status=400)
    services.suggestion_ignore(suggestion=suggestion, user=request.user)
    return _panel(request, suggestion.trace, membership)


@login_required
@require_GET
def hint_memory_panel(request: HtmxHttpRequest, trace_id: int):
    """The accepted hints most like the given step (``?step=``), same prompt first."""
    trace, _ = object_for(request.user, Trace.objects.select_related("project"), trace_id)
    step = request.GET.get("step", "")
    step_index = int(step) if step.isdigit() and len(step) < 9 else None
    found = memory.hint_memory_search(
        project=trace.project,
        text=memory.step_text_at(trace, step_index),
        prompt_id=trace.prompt_id,
        exclude_trace_id=trace.pk,
    )
    return render(
        request,
        "judges/_assist.html#hint-memory",
        {"trace": trace, "memories": found, "step": step_index},
    )
