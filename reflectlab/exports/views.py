from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from reflectlab.core.access import project_view
from reflectlab.core.htmx import stop_polling
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.core.pagination import page_of
from reflectlab.exports import selectors, services
from reflectlab.exports.forms import ExportForm
from reflectlab.exports.models import Export
from reflectlab.projects.models import Role

CREATE_ROLE = Role.REVIEWER
# Files carry every annotator's name, labels and critiques: reviewers and up only.
DOWNLOAD_ROLE = Role.REVIEWER


def _list_context(request, form):
    return {
        "project": request.project,
        "page": page_of(request, selectors.export_list(project=request.project)),
        "form": form,
        "can_create": request.membership.allows(CREATE_ROLE),
        "can_download": request.membership.allows(DOWNLOAD_ROLE),
    }


@project_view()
@require_GET
def export_list(request: HtmxHttpRequest, project_id: int):
    return render(request, "exports/list.html", _list_context(request, ExportForm()))


@project_view(role=CREATE_ROLE)
@require_POST
def export_create(request: HtmxHttpRequest, project_id: int):
    form = ExportForm(request.POST)
    if form.is_valid():
        try:
            export = services.export_create(
                project=request.project, user=request.user, **form.payload()
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("exports:detail", project_id=project_id, export_id=export.pk)
    return render(request, "exports/list.html", _list_context(request, form), status=400)


@project_view()
@require_GET
def export_detail(request: HtmxHttpRequest, project_id: int, export_id: int):
    export = get_object_or_404(Export, pk=export_id, project=request.project)
    context = {
        "project": request.project,
        "export": export,
        "can_create": request.membership.allows(CREATE_ROLE),
        "can_download": request.membership.allows(DOWNLOAD_ROLE),
    }
    if request.htmx:
        response = render(request, "exports/detail.html#export-status", context)
        return stop_polling(response, when=export.is_terminal)
    return render(request, "exports/detail.html", context)


@project_view(role=CREATE_ROLE)
@require_POST
def export_cancel(request: HtmxHttpRequest, project_id: int, export_id: int):
    export = get_object_or_404(Export, pk=export_id, project=request.project)
    if services.export_cancel(export=export):
        messages.success(request, "Export cancelled; no file is kept.")
    else:
        messages.error(request, "That export had already finished.")
    return redirect("exports:detail", project_id=project_id, export_id=export.pk)


def download_response(export: Export) -> FileResponse:
    """Stream a finished export's file (never a public media URL)."""
    path = export.path
    if not export.is_downloadable or path is None or not path.exists():
        raise Http404("This export has no file.")
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"reflectlab-{export.project_id}-{export.pk}-{export.file_name}",
    )
    response["X-Content-SHA256"] = export.sha256
    response["Cache-Control"] = "private, no-store"
    return response


@project_view(role=DOWNLOAD_ROLE)
@require_GET
def export_download(request: HtmxHttpRequest, project_id: int, export_id: int):
    export = get_object_or_404(Export, pk=export_id, project=request.project)
    return download_response(export)
