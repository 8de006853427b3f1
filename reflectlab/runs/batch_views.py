"""The run page's batch panel: download the requests, upload results, submit."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from reflectlab.core.access import object_for
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.projects.models import Role
from reflectlab.runs import batch, selectors
from reflectlab.runs.batch_apis import requests_response
from reflectlab.runs.models import Run


class BatchResultsForm(forms.Form):
    file = forms.FileField(label="Results file (JSONL)")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.REFLECTLAB_MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than the upload limit.")
        return upload


def _batch_run(request, run_id: int) -> Run:
    run, _ = object_for(
        request.user, selectors.run_detail(run_id=run_id), run_id, role=Role.MANAGER
    )
    if run.mode != Run.Mode.BATCH:
        raise Http404("Not a batch run.")
    return run


@login_required
@require_GET
def run_batch_requests(request: HtmxHttpRequest, run_id: int):
    return requests_response(_batch_run(request, run_id))


@login_required
@require_POST
def run_batch_results(request: HtmxHttpRequest, run_id: int):
    run = _batch_run(request, run_id)
    form = BatchResultsForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
        return redirect("runs:detail", run_id=run.pk)
    try:
        report = batch.run_batch_results_accept(run=run, upload=form.cleaned_data["file"])
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        if report is None:
            messages.success(request, "The results file is being imported on a worker.")
        else:
            text = (
                f"{report['rows_written']} traces written, {report['rows_failed']} failed, "
                f"{report['rows_skipped']} already there, {report['rows_rejected']} lines rejected."
            )
            errors = "; ".join(f"line {e['line']}: {e['error']}" for e in report["errors"][:5])
            (messages.warning if report["rows_rejected"] else messages.success)(
                request, f"{text} {errors}".strip()
            )
    return redirect("runs:detail", run_id=run.pk)


@login_required
@require_POST
def run_batch_submit(request: HtmxHttpRequest, run_id: int):
    run = _batch_run(request, run_id)
    if run.batch_id or run.is_terminal:
        messages.error(request, "This run was already submitted or has finished.")
    else:
        batch.run_batch_submit_enqueue(run=run)
        messages.success(request, f"Submitting run {run.pk} to {run.model_config.base_url}.")
    return redirect("runs:detail", run_id=run.pk)
