from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from reflectlab.annotations import selectors as annotation_selectors
from reflectlab.annotations.models import Annotation
from reflectlab.annotations.step_edits import trace_steps
from reflectlab.annotations.workspace import branch_item, step_legend, steps_url
from reflectlab.core.access import object_for, project_view
from reflectlab.core.errors import ClaimLost, Conflict
from reflectlab.core.htmx import stop_polling
from reflectlab.core.http import HtmxHttpRequest
from reflectlab.projects.models import Role
from reflectlab.review import claims, decisions, selectors
from reflectlab.review import queue as queue_services
from reflectlab.review.forms import GoldForm, PinForm, PolicyForm, ReviewForm
from reflectlab.review.models import DONE_STATES, Claim, GoldItem
from reflectlab.review.policy import project_policy
from reflectlab.traces.forms import TracePageForm
from reflectlab.traces.presenters import present_trace
from reflectlab.traces.selectors import model_names


def _roles(membership) -> dict:
    return {
        "is_reviewer": membership.allows(Role.REVIEWER),
        "is_manager": membership.allows(Role.MANAGER),
    }


def _queue_context(request, *, policy_form=None, pin_form=None, gold_form=None) -> dict:
    project = request.project
    context = {
        "project": project,
        "status": selectors.queue_status(project=project),
        "claim": selectors.current_claim(project=project, user=request.user),
        **_roles(request.membership),
    }
    if context["is_reviewer"]:
        context["live_claims"] = selectors.live_claims(project=project)[:50]
    if context["is_manager"]:
        policy = project_policy(project)
        context.update(
            policy_form=policy_form
            or PolicyForm(
                initial=PolicyForm.initial_from(policy), model_names=model_names(project=project)
            ),
            pin_form=pin_form or PinForm(),
            gold_form=gold_form or GoldForm(),
            pinned=selectors.pinned_items(project=project),
            gold=selectors.gold_items(project=project),
            upcoming=selectors.queue_upcoming(project=project),
        )
    return context


@project_view()
@require_GET
def queue(request: HtmxHttpRequest, project_id: int):
    # Read only: new traces join at the next claim, re-ranking runs on policy
    # changes and in the ``queue_refresh`` task; ``status.unqueued`` says how
    # many are still waiting to join.
    if request.htmx and request.htmx.target == "queue-counts":
        context = _queue_context(request)
        return render(request, "review/queue.html#queue-counts", context)
    return render(request, "review/queue.html", _queue_context(request))


@project_view(Role.MANAGER)
@require_POST
def queue_policy(request: HtmxHttpRequest, project_id: int):
    form = PolicyForm(request.POST, model_names=model_names(project=request.project))
    if form.is_valid():
        try:
            queue_services.queue_policy_set(project=request.project, policy=form.policy())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Queue policy saved; the queue was re-ranked.")
            return redirect("review:queue", project_id)
    return render(
        request, "review/queue.html", _queue_context(request, policy_form=form), status=400
    )


@project_view(Role.MANAGER)
@require_POST
def queue_pin(request: HtmxHttpRequest, project_id: int):
    form = PinForm(request.POST)
    if form.is_valid():
        try:
            queue_services.queue_pin(
                project=request.project,
                trace_id=form.cleaned_data["trace_id"],
                pinned=form.cleaned_data["pinned"],
            )
        except ValidationError as exc:
            form.add_error("trace_id", exc)
        else:
            verb = "Pinned" if form.cleaned_data["pinned"] else "Unpinned"
            messages.success(request, f"{verb} trace {form.cleaned_data['trace_id']}.")
            return redirect("review:queue", project_id)
    return render(request, "review/queue.html", _queue_context(request, pin_form=form), status=400)


@project_view(Role.MANAGER)
@require_POST
def gold_add(request: HtmxHttpRequest, project_id: int):
    form = GoldForm(request.POST)
    if form.is_valid():
        try:
            queue_services.gold_set(project=request.project, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Trace {form.cleaned_data['trace_id']} is a gold item.")
            return redirect("review:queue", project_id)
    return render(request, "review/queue.html", _queue_context(request, gold_form=form), status=400)


@project_view(Role.MANAGER)
@require_POST
def gold_remove(request: HtmxHttpRequest, project_id: int, gold_id: int):
    gold = get_object_or_404(GoldItem, pk=gold_id, project=request.project)
    queue_services.gold_remove(gold=gold)
    messages.success(request, f"Trace {gold.trace_id} is no longer a gold item.")
    return redirect("review:queue", project_id)


@project_view()
@require_POST
def queue_next(request: HtmxHttpRequest, project_id: int):
    returned = annotation_selectors.returned_work(project_id=project_id, user=request.user)
    if returned is not None:
        messages.warning(
            request, f"Trace {returned.trace_id} came back from review: revise it first."
        )
        return redirect("traces:detail", returned.trace_id)
    claim = claims.queue_next(project=request.project, user=request.user)
    if claim is None:
        return render(
            request,
            "review/queue_empty.html",
            {"project": request.project, **_roles(request.membership)},
        )
    return redirect("traces:detail", claim.trace_id)


@login_required
@require_POST
def claim_release(request: HtmxHttpRequest, claim_id: int):
    claim, membership = object_for(request.user, Claim.objects.select_related("project"), claim_id)
    if claim.user_id != request.user.pk and not membership.allows(Role.REVIEWER):
        raise PermissionDenied("Only its holder or a reviewer may release a claim.")
    if claims.claim_release(claim=claim, by=request.user):
        messages.info(request, f"Released trace {claim.trace_id}.")
    if request.POST.get("then") == "next" and claim.kind == Claim.Kind.ANNOTATE:
        return queue_next(request, claim.project_id)
    if claim.kind == Claim.Kind.REVIEW:
        return redirect("review:inbox", claim.project_id)
    return redirect("review:queue", claim.project_id)


@login_required
@require_POST
def claim_heartbeat(request: HtmxHttpRequest, claim_id: int):
    claim, _ = object_for(request.user, Claim.objects.select_related("project"), claim_id)
    try:
        claim.expires_at = claims.claim_heartbeat(claim_id=claim.pk, user=request.user)
        lost = False
    except ClaimLost:
        claim.refresh_from_db()
        lost = True
    response = render(
        request,
        "review/_lease.html#claim-lease",
        {"claim": claim, "lost": lost, "now": timezone.now()},
    )
    if lost and not request.htmx:
        response.status_code = 409  # a plain post: the claim is gone
    return stop_polling(response, when=lost and bool(request.htmx))


@project_view()
@require_GET
def my_work(request: HtmxHttpRequest, project_id: int):
    context = {
        "project": request.project,
        **selectors.my_work(project=request.project, user=request.user),
        **_roles(request.membership),
    }
    return render(request, "review/my_work.html", context)


@project_view(Role.REVIEWER)
@require_GET
def inbox(request: HtmxHttpRequest, project_id: int):
    context = {
        "project": request.project,
        **selectors.review_inbox(project=request.project, user=request.user),
        **_roles(request.membership),
    }
    return render(request, "review/inbox.html", context)


@project_view(Role.REVIEWER)
@require_POST
def review_next(request: HtmxHttpRequest, project_id: int):
    claim = decisions.review_next(project=request.project, user=request.user)
    if claim is None:
        messages.info(request, "Nothing is waiting for review.")
        return redirect("review:inbox", project_id)
    return redirect("review:annotation", claim.annotation_id)


def _review_context(request, annotation: Annotation, form: ReviewForm | None = None) -> dict:
    trace = annotation.trace
    others = (
        Annotation.objects.filter(trace=trace, state__in=DONE_STATES)
        .exclude(pk=annotation.pk)
        .select_related("annotator")
    )
    initial = {
        "version": annotation.version,
        **{name: getattr(annotation, name) for name in ReviewForm.EDIT_FIELDS},
        "step_labels": json.dumps(annotation.step_labels or {}),
    }
    claim = (
        Claim.objects.filter(
            annotation=annotation,
            kind=Claim.Kind.REVIEW,
            state=Claim.State.ACTIVE,
            expires_at__gt=timezone.now(),
        )
        .select_related("user")
        .first()
    )
    # The workspace's own presenter and partials: full steps with kinds and
    # cues, the annotation's labels and first error painted on them, branches;
    # the steps as annotators see them (step edits applied, as the labels are).
    view = present_trace(
        trace,
        labels=annotation.step_labels or {},
        first_error=annotation.first_error_step,
        steps=trace_steps(trace=trace),
    )
    return {
        "project": annotation.project,
        "annotation": annotation,
        "trace": trace,
        "view": view,
        "steps_url": steps_url(trace),
        "folds_open": TracePageForm.folds_open(request.GET),
        "metrics": view.metrics,
        "legend": step_legend(view.metrics),
        "branches": [branch_item(b) for b in annotation_selectors.trace_branches(trace=trace)],
        "editing": form is not None and form.data.get("decision") == "edit",
        "others": others,
        "reviews": annotation.reviews.select_related("reviewer"),
        "form": form or ReviewForm(initial=initial, project=annotation.project),
        "claim": claim,
        "held_by_other": claim is not None and claim.user_id != request.user.pk,
        "own": annotation.annotator_id == request.user.pk,
    }


@login_required
@require_http_methods(["GET", "POST"])
def review_annotation(request: HtmxHttpRequest, annotation_id: int):
    annotation, membership = object_for(
        request.user,
        selectors.review_detail(annotation_id=annotation_id),
        annotation_id,
        role=Role.REVIEWER,
    )
    request.membership = membership
    if request.method == "GET":
        return render(request, "review/annotation.html", _review_context(request, annotation))
    form = ReviewForm(request.POST, project=annotation.project)
    if form.is_valid():
        data = form.cleaned_data
        try:
            decisions.review_decide(
                annotation=annotation,
                reviewer=request.user,
                decision=data["decision"],
                comment=data["comment"],
                edits=form.edits(),
                version=data["version"],
            )
        except Conflict as exc:
            messages.error(request, str(exc))
            return redirect("review:annotation", annotation.pk)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            label = {"accept": "Accepted", "reject": "Rejected", "edit": "Edited and accepted"}
            messages.success(request, f"{label[data['decision']]} annotation {annotation.pk}.")
            if data["then_next"]:
                return review_next(request, annotation.project_id)
            return redirect("review:inbox", annotation.project_id)
    return render(
        request, "review/annotation.html", _review_context(request, annotation, form), status=400
    )


@project_view(Role.REVIEWER)
@require_GET
def stats(request: HtmxHttpRequest, project_id: int):
    return render(
        request,
        "review/stats.html",
        {
            "project": request.project,
            "rows": selectors.annotator_stats(project=request.project),
            **_roles(request.membership),
        },
    )


@project_view(Role.REVIEWER)
@require_GET
def agreement(request: HtmxHttpRequest, project_id: int):
    return render(
        request,
        "review/agreement.html",
        {
            "project": request.project,
            "view": selectors.project_agreement(project=request.project),
            **_roles(request.membership),
        },
    )
