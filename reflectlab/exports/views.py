from __future__ import annotations

import mimetypes

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from reflectlab.core.access import project_view
from reflectlab.core.htmx import stop_polling
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.core.pagination import page_of
from reflectlab.core.storage import exports_storage, is_s3, storage_chunks
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


def download_response(export: Export) -> HttpResponseBase:
    """Send a finished export's file to a caller whose membership was checked.

    The bytes stream from the ``exports`` storage through this process (never
    a public media URL). With S3 and ``REFLECTLAB_S3_PRESIGNED_DOWNLOADS`` on,
    the answer is instead a redirect to a presigned URL that expires after
    ``REFLECTLAB_S3_PRESIGNED_SECONDS`` (60 s by default), so big files skip
    the web process; it is issued only here, after the same permission check.
    """
    storage = exports_storage()
    key = export.key
    if not export.is_downloadable or key is None or not storage.exists(key):
        raise Http404("This export has no file.")
    filename = f"reflectlab-{export.project_id}-{export.pk}-{export.file_name}"
    if is_s3(storage) and settings.REFLECTLAB_S3_PRESIGNED_DOWNLOADS:
        url = storage.url(
            key,
            parameters={"ResponseContentDisposition": f'attachment; filename="{filename}"'},
        )
        response: HttpResponseBase = HttpResponseRedirect(url)
    else:
        response = StreamingHttpResponse(
            storage_chunks(storage=storage, key=key),
            content_type=mimetypes.guess_type(export.file_name)[0] or "application/octet-stream",
        )
        response["Content-Length"] = str(export.size_bytes)
        response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-SHA256"] = export.sha256
    response["Cache-Control"] = "private, no-store"
    return response


@project_view(role=DOWNLOAD_ROLE)
@require_GET
def export_download(request: HtmxHttpRequest, project_id: int, export_id: int):
    export = get_object_or_404(Export, pk=export_id, project=request.project)
    return download_response(export)
