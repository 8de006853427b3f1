from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reflectlab.core.access import object_for, project_view
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.dashboards.staticfiles import plotly_static_path
from reflectlab.judges import figures, forms, selectors, services
from reflectlab.judges.evaluation import judge_evaluation
from reflectlab.projects.models import Role
from reflectlab.runs.selectors import run_progress


@project_view()
@require_GET
def judge_list(request: HtmxHttpRequest, project_id: int):
    settings = selectors.assist_settings_of(project=request.project)
    return render(
        request,
        "judges/list.html",
        {
            "project": request.project,
            "membership": request.membership,
            "judges": selectors.judge_list(project=request.project),
            "runs": selectors.judge_run_list(project=request.project)[:20],
            "assist_form": forms.AssistSettingsForm(
                initial={
                    "suggestion_mode": settings.suggestion_mode,
                    "low_confidence": settings.low_confidence,
                }
            ),
        },
    )


@project_view(role=Role.MANAGER)
@require_POST
def assist_update(request: HtmxHttpRequest, project_id: int):
    form = forms.AssistSettingsForm(request.POST)
    if form.is_valid():
        services.assist_settings_update(project=request.project, **form.cleaned_data)
        messages.success(request, "Assistance settings saved.")
    else:
        messages.error(request, f"Not saved: {form.errors.as_text()}")
    return redirect("judges:list", project_id=request.project.pk)


@project_view(role=Role.MANAGER)
@require_http_methods(["GET", "POST"])
def judge_create(request: HtmxHttpRequest, project_id: int):
    form = forms.JudgeForm(request.POST or None, project=request.project)
    if request.method == "POST" and form.is_valid():
        try:
            judge = services.judge_create(
                project=request.project, user=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Judge {judge.name} created with prompt version 1.")
            return redirect("judges:detail", judge_id=judge.pk)
    return render(request, "judges/create.html", {"project": request.project, "form": form})


def _detail_context(judge, membership, **forms_):
    latest = services.judge_prompt_latest(judge=judge)
    return {
        "project": judge.project,
        "judge": judge,
        "membership": membership,
        "prompts": selectors.judge_prompts(judge=judge),
        "runs": selectors.judge_run_list(project=judge.project, judge=judge)[:20],
        "prompt_form": forms_.get("prompt_form")
        or forms.PromptVersionForm(initial={"template": latest.template if latest else ""}),
        "run_form": forms_.get("run_form") or forms.JudgeRunForm(),
    }


@login_required
@require_GET
def judge_detail(request: HtmxHttpRequest, judge_id: int):
    judge, membership = object_for(request.user, selectors.judge_detail(), judge_id)
    return render(request, "judges/detail.html", _detail_context(judge, membership))


@login_required
@require_POST
def prompt_add(request: HtmxHttpRequest, judge_id: int):
    judge, membership = object_for(
        request.user, selectors.judge_detail(), judge_id, role=Role.MANAGER
    )
    form = forms.PromptVersionForm(request.POST)
    if form.is_valid():
        try:
            prompt = services.judge_prompt_add(
                judge=judge, template=form.cleaned_data["template"], user=request.user
            )
        except ValidationError as exc:
            form.add_error("template", exc.message_dict.get("template", exc.messages))
        else:
            messages.success(request, f"Prompt version {prompt.version} is the latest.")
            return redirect("judges:detail", judge_id=judge.pk)
    context = _detail_context(judge, membership, prompt_form=form)
    return render(request, "judges/detail.html", context, status=400)


@login_required
@require_POST
def run_create(request: HtmxHttpRequest, judge_id: int):
    judge, membership = object_for(
        request.user, selectors.judge_detail(), judge_id, role=Role.MANAGER
    )
    form = forms.JudgeRunForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            run = services.judge_run_create(
                judge=judge, user=request.user, trace_ids=data["trace_ids"],
                filters=data["filters"], samples_per_trace=data.get("samples_per_trace"),
            )  # fmt: skip
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Judge run {run.pk} queued: {run.items_total} requests.")
            return redirect("judges:run", run_id=run.pk)
    context = _detail_context(judge, membership, run_form=form)
    return render(request, "judges/detail.html", context, status=400)


def _run_context(run, membership):
    return {
        "project": run.project,
        "run": run,
        "membership": membership,
        "progress": run_progress(run=run),
        "failed_items": selectors.judge_run_failed_items(run=run, limit=50),
        "unparsed": run.samples.filter(parse_state="unparseable").order_by("id")[:10],
    }


@login_required
@require_GET
def run_detail(request: HtmxHttpRequest, run_id: int):
    run, membership = object_for(request.user, selectors.judge_run_detail(), run_id)
    context = _run_context(run, membership)
    if request.htmx:
        response = render(request, "judges/run.html#run-status", context)
        if run.is_terminal:
            response.status_code = 286  # htmx stops polling
        return response
    return render(request, "judges/run.html", context)


@login_required
@require_POST
def run_cancel(request: HtmxHttpRequest, run_id: int):
    run, membership = object_for(
        request.user, selectors.judge_run_detail(), run_id, role=Role.MANAGER
    )
    cancelled = services.judge_run_cancel(run=run)
    if request.htmx:
        return render(request, "judges/run.html#run-status", _run_context(run, membership))
    if cancelled:
        messages.success(request, f"Judge run {run.pk} cancelled; requests in flight finish.")
    else:
        messages.error(request, f"Judge run {run.pk} had already finished.")
    return redirect("judges:run", run_id=run.pk)


@project_view(role=Role.REVIEWER)
@require_GET
def dashboard(request: HtmxHttpRequest, project_id: int):
    form = forms.EvalFilterForm(request.GET or None, project=request.project)
    judge = run = None
    submitted = False
    if form.is_valid():
        judge, run = form.cleaned_data["judge"], form.cleaned_data["run"]
        submitted = form.cleaned_data["submitted"]
    elif form.is_bound:
        return render(
            request, "judges/dashboard.html", {"project": request.project, "form": form}, status=400
        )
    states = ("accepted", "submitted") if submitted else ("accepted",)
    result = judge_evaluation(project=request.project, judge=judge, run=run, human_states=states)
    return render(
        request,
        "judges/dashboard.html",
        {
            "project": request.project,
            "form": form,
            "result": result,
            "plotly_js": plotly_static_path(),
            "pb_figure": figures.processbench_figure(result.processbench)
            if result.processbench
            else None,
            "outcome_figure": figures.outcomes_figure(result.outcomes)
            if any(result.outcomes.values())
            else None,
        },
    )
