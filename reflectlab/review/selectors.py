"""Reads for the queue, inbox, stats and agreement pages (queries owned here).

Nothing here writes; the services (``queue``, ``claims``, ``decisions``) import
these reads, never the other way round.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from reflectlab.annotations.models import Annotation
from reflectlab.projects.models import Membership, Project
from reflectlab.review import agreement, claims_pg
from reflectlab.review.models import DONE_STATES, Claim, GoldItem, QueueItem, Review
from reflectlab.review.policy import project_policy
from reflectlab.traces.models import Trace

User = get_user_model()


def rating_of(annotation: Annotation, original: dict[str, Any] | None = None) -> agreement.Rating:
    """The annotator's own judgement (before any reviewer edit, if ``original``)."""
    source = original or {
        "first_error_step": annotation.first_error_step,
        "step_labels": annotation.step_labels,
        "verdict": annotation.verdict,
    }
    labels = {}
    for step, label in (source.get("step_labels") or {}).items():
        if str(step).lstrip("-").isdigit() and label in (-1, 0, 1):
            labels[int(step)] = label
    return agreement.Rating(
        item=annotation.trace_id,
        rater=annotation.annotator_id,
        first_error=source.get("first_error_step"),
        step_labels=labels,
        verdict=source.get("verdict") or None,
    )


def live_annotate_claims(*, project: Project, user, now: datetime) -> list[tuple[Claim, bool]]:
    """The user's live annotate claims, oldest first, each with whether the user
    has already submitted (or finished) an annotation of its trace."""
    if claims_pg.in_use():
        # Same query, prepared once per connection: on the claim path the
        # ORM's query building would cost more than the query itself.
        return claims_pg.live_claims(project=project, user_id=user.pk, now=now)
    submitted = Annotation.objects.filter(
        trace_id=OuterRef("trace_id"), annotator_id=user.pk, state__in=DONE_STATES
    )
    return [
        (claim, claim.submitted)
        for claim in Claim.objects.filter(
            project=project,
            user_id=user.pk,
            kind=Claim.Kind.ANNOTATE,
            state=Claim.State.ACTIVE,
            expires_at__gt=now,
        )
        .annotate(submitted=Exists(submitted))
        .order_by("created_at", "id")
    ]


def current_claim(*, project: Project, user, now: datetime | None = None) -> Claim | None:
    """The user's live annotate claim whose work is still to do (read only: a
    claim whose annotation was submitted is closed by ``claims.claim_resume``)."""
    now = now or timezone.now()
    live = live_annotate_claims(project=project, user=user, now=now)
    return next((claim for claim, submitted in live if not submitted), None)


def current_review_claim(*, project: Project, user, now: datetime | None = None) -> Claim | None:
    now = now or timezone.now()
    return (
        Claim.objects.filter(
            project=project,
            user_id=user.pk,
            kind=Claim.Kind.REVIEW,
            state=Claim.State.ACTIVE,
            expires_at__gt=now,
            annotation__state=Annotation.State.SUBMITTED,
        )
        .order_by("created_at", "id")
        .first()
    )


def review_candidates(*, project: Project, user) -> list[Annotation]:
    """Submitted annotations the user may review, in policy order: disagreements
    first (when the policy says so), then the oldest submission."""
    held = Claim.objects.filter(
        annotation_id=OuterRef("pk"), kind=Claim.Kind.REVIEW, state=Claim.State.ACTIVE
    )
    candidates = list(
        Annotation.objects.filter(project=project, state=Annotation.State.SUBMITTED)
        .exclude(annotator_id=user.pk)
        .exclude(trace__gold__isnull=False)
        .exclude(Exists(held))
        .order_by("submitted_at", "id")[:500]
    )
    if not candidates or not project_policy(project).review_disagreements_first:
        return candidates
    siblings: dict[int, list[Annotation]] = defaultdict(list)
    for other in Annotation.objects.filter(
        trace_id__in={a.trace_id for a in candidates}, state__in=DONE_STATES
    ):
        siblings[other.trace_id].append(other)

    def disputed(annotation: Annotation) -> bool:
        mine = rating_of(annotation)
        return any(
            agreement.disagree(mine, rating_of(o))
            for o in siblings[annotation.trace_id]
            if o.pk != annotation.pk
        )

    return sorted(candidates, key=lambda a: not disputed(a))


def project_ratings(*, project: Project) -> list[agreement.Rating]:
    annotations = list(
        Annotation.objects.filter(project=project, state__in=DONE_STATES).only(
            "id", "trace_id", "annotator_id", "first_error_step", "step_labels", "verdict"
        )
    )
    originals: dict[int, dict] = {}
    for annotation_id, original in (
        Review.objects.filter(project=project, decision=Review.Decision.EDIT)
        .order_by("-created_at")
        .values_list("annotation_id", "original")
    ):
        originals[annotation_id] = original  # the earliest edit wins (iterated last)
    return [rating_of(a, originals.get(a.pk)) for a in annotations]


@dataclass
class AgreementView:
    project: agreement.Agreement
    pairs: list[dict[str, Any]]
    by_user: dict[int, float]
    overlap: int
    disputed: list[dict[str, Any]] = field(default_factory=list)


def project_agreement(*, project: Project) -> AgreementView:
    ratings = project_ratings(project=project)
    summary, pairs = agreement.agreement_report(ratings)
    names = dict(
        User.objects.filter(pk__in={r.rater for r in ratings}).values_list("pk", "username")
    )
    rows = [
        {
            "a": names.get(p.raters[0], p.raters[0]),
            "b": names.get(p.raters[1], p.raters[1]),
            "stats": p,
        }
        for p in pairs
    ]
    by_item: dict[int, list[agreement.Rating]] = defaultdict(list)
    for rating in ratings:
        by_item[rating.item].append(rating)
    disputed = []
    for item, rs in sorted(by_item.items()):
        if any(agreement.disagree(a, b) for i, a in enumerate(rs) for b in rs[i + 1 :]):
            disputed.append(
                {
                    "trace_id": item,
                    "ratings": [
                        {
                            "user": names.get(r.rater, r.rater),
                            "first_error": r.first_error,
                            "verdict": r.verdict,
                        }
                        for r in rs
                    ],
                }
            )
    return AgreementView(
        project=summary,
        pairs=rows,
        by_user=agreement.rater_agreement(pairs),
        overlap=project.overlap,
        disputed=disputed[:50],
    )


# Queue counters are exact up to here; above it, the planner's estimate (issue 16:
# an exact COUNT over a million queue items costs more than the whole page may).
COUNT_CAP = 10_000


def bounded_count(queryset: QuerySet, *, column: str, cap: int | None = None) -> tuple[int, bool]:
    """(count, approximate): exact up to ``cap`` (reading at most cap + 1 index
    entries of ``column``, which must be in the index so the scan skips the heap);
    above it PostgreSQL's row estimate for the same query, never below the cap
    (other databases count exactly)."""
    cap = COUNT_CAP if cap is None else cap
    n = queryset.order_by().values(column)[: cap + 1].count()
    if n <= cap:
        return n, False
    if connection.vendor != "postgresql":
        return queryset.count(), False  # SQLite serves small installs: exact
    sql, params = queryset.order_by().values(column).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return max(int(plan[0]["Plan"]["Plan Rows"]), cap + 1), True


def queue_status(*, project: Project, now: datetime | None = None) -> dict[str, Any]:
    """The queue page's counters; ``approximate`` names those above ``COUNT_CAP``,
    which are the planner's estimate. Each count reads a prefix of ``queueitem_pick``
    (no heap, no Python loop over rows), so a million-item queue costs what a
    ten-thousand-item one does."""
    now = now or timezone.now()
    items = QueueItem.objects.filter(project=project, is_gold=False, in_queue=True)
    in_queue, approx_queue = bounded_count(items, column="rank")
    open_, approx_open = bounded_count(items.filter(is_open=True), column="rank")
    # Gold and the rest apart: each reads a prefix of queueitem_pick
    # (PostgreSQL cannot skip over is_gold to reach in_queue).
    parts = [
        bounded_count(
            QueueItem.objects.filter(project=project, is_gold=gold, in_queue=False), column="rank"
        )
        for gold in (False, True)
    ]
    excluded, approx_excluded = sum(n for n, _ in parts), any(a for _, a in parts)
    complete = (
        Claim.objects.filter(
            project=project, kind=Claim.Kind.ANNOTATE, state=Claim.State.DONE, is_gold=False
        )
        .values("trace_id")
        .annotate(n=Count("*"))
        .filter(n__gte=project.overlap)
        .count()
    )
    live = (
        Claim.objects.filter(project=project, state=Claim.State.ACTIVE, expires_at__gt=now)
        .values("kind")
        .annotate(n=Count("id"))
    )
    live_by_kind = {row["kind"]: row["n"] for row in live}
    annotations = dict(
        Annotation.objects.filter(project=project)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    # Root traces newer than every queue item: they join at the next claim
    # (``queue_sync``); counted here because a page view never writes.
    newest = QueueItem.objects.filter(project=project).aggregate(m=Max("trace_id"))["m"] or 0
    unqueued = Trace.objects.filter(project=project, parent__isnull=True, pk__gt=newest).count()
    return {
        "unqueued": unqueued,
        "in_queue": in_queue,
        "open": open_,
        "claimed": live_by_kind.get(Claim.Kind.ANNOTATE, 0),
        "reviewing": live_by_kind.get(Claim.Kind.REVIEW, 0),
        "complete": complete,
        "excluded": excluded,
        "gold": GoldItem.objects.filter(project=project).count(),
        "submitted": annotations.get(Annotation.State.SUBMITTED, 0),
        "accepted": annotations.get(Annotation.State.ACCEPTED, 0),
        "rejected": annotations.get(Annotation.State.REJECTED, 0),
        "drafts": annotations.get(Annotation.State.DRAFT, 0),
        "approximate": [
            name
            for name, approx in (
                ("in_queue", approx_queue),
                ("open", approx_open),
                ("excluded", approx_excluded),
            )
            if approx
        ],
    }


def pinned_items(*, project: Project):
    return (
        QueueItem.objects.filter(project=project, pin_order=0)
        .select_related("trace", "trace__prompt")
        .order_by("pinned_at", "trace_id")
    )


def gold_items(*, project: Project):
    return GoldItem.objects.filter(project=project).select_related("trace", "trace__prompt")


def queue_upcoming(*, project: Project, limit: int = 10):
    return (
        QueueItem.objects.filter(project=project, is_gold=False, in_queue=True, is_open=True)
        .select_related("trace", "trace__prompt")
        .order_by("pin_order", "rank", "trace_id")[:limit]
    )


def live_claims(*, project: Project, now: datetime | None = None):
    now = now or timezone.now()
    return (
        Claim.objects.filter(project=project, state=Claim.State.ACTIVE, expires_at__gt=now)
        .select_related("user", "trace")
        .order_by("expires_at")
    )


def my_work(*, project: Project, user, now: datetime | None = None) -> dict[str, Any]:
    annotations = list(
        Annotation.objects.filter(project=project, annotator_id=user.pk)
        .select_related("trace", "trace__prompt")
        .order_by("-updated_at")[:200]
    )
    last_reviews: dict[int, Review] = {}
    for review in Review.objects.filter(annotation__in=[a.pk for a in annotations]).select_related(
        "reviewer"
    ):
        last_reviews.setdefault(review.annotation_id, review)  # ordered newest first
    for annotation in annotations:
        annotation.last_review = last_reviews.get(annotation.pk)
    by_state: dict[str, list[Annotation]] = defaultdict(list)
    for annotation in annotations:
        by_state[annotation.state].append(annotation)
    return {
        "claim": current_claim(project=project, user=user, now=now),
        "rejected": by_state[Annotation.State.REJECTED],
        "drafts": by_state[Annotation.State.DRAFT],
        "submitted": by_state[Annotation.State.SUBMITTED],
        "accepted": by_state[Annotation.State.ACCEPTED],
    }


def review_inbox(*, project: Project, user, now: datetime | None = None) -> dict[str, Any]:
    candidates = review_candidates(project=project, user=user)
    ratings_by_trace: dict[int, list[agreement.Rating]] = defaultdict(list)
    for other in Annotation.objects.filter(
        trace_id__in={a.trace_id for a in candidates[:50]}, state__in=DONE_STATES
    ):
        ratings_by_trace[other.trace_id].append(rating_of(other))
    waiting = []
    for annotation in Annotation.objects.filter(
        pk__in=[a.pk for a in candidates[:50]]
    ).select_related("annotator", "trace", "trace__prompt"):
        mine = rating_of(annotation)
        annotation.disputed = any(
            agreement.disagree(mine, other)
            for other in ratings_by_trace[annotation.trace_id]
            if other.rater != annotation.annotator_id
        )
        waiting.append(annotation)
    order = {a.pk: i for i, a in enumerate(candidates)}
    waiting.sort(key=lambda a: order[a.pk])
    return {
        "claim": current_review_claim(project=project, user=user, now=now),
        "waiting": waiting,
        "waiting_total": len(candidates),
        "recent": Review.objects.filter(project=project, reviewer_id=user.pk)
        .select_related("annotation", "annotation__annotator")
        .order_by("-created_at")[:20],
    }


def review_detail(*, annotation_id: int):
    return Annotation.objects.select_related("trace", "trace__prompt", "annotator", "project")


def annotator_stats(*, project: Project, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or timezone.now()
    week_ago = now - timedelta(days=7)
    members = list(
        Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    )
    counts = {
        row["annotator_id"]: row
        for row in Annotation.objects.filter(project=project)
        .values("annotator_id")
        .annotate(
            submitted=Count("id", filter=Q(state__in=DONE_STATES)),
            accepted=Count("id", filter=Q(state=Annotation.State.ACCEPTED)),
            rejected=Count("id", filter=Q(state=Annotation.State.REJECTED)),
            week=Count("id", filter=Q(state__in=DONE_STATES, submitted_at__gte=week_ago)),
        )
    }
    times: dict[int, list[int]] = defaultdict(list)
    for annotator_id, seconds in Annotation.objects.filter(
        project=project, state__in=DONE_STATES, time_spent_seconds__gt=0
    ).values_list("annotator_id", "time_spent_seconds"):
        times[annotator_id].append(seconds)
    claim_times: dict[int, list[float]] = defaultdict(list)
    for user_id, created, ended in Claim.objects.filter(
        project=project, kind=Claim.Kind.ANNOTATE, state=Claim.State.DONE, ended_at__isnull=False
    ).values_list("user_id", "created_at", "ended_at"):
        if ended > created:
            claim_times[user_id].append((ended - created).total_seconds())
    gold = {g.trace_id: g for g in GoldItem.objects.filter(project=project)}
    gold_hits: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for annotation in Annotation.objects.filter(
        project=project, trace_id__in=list(gold), state__in=DONE_STATES
    ):
        item = gold[annotation.trace_id]
        hits, checks = agreement.gold_score(
            expected_first_error=item.expected_first_error_step,
            expected_verdict=item.expected_verdict,
            first_error=annotation.first_error_step,
            verdict=annotation.verdict,
        )
        gold_hits[annotation.annotator_id][0] += hits
        gold_hits[annotation.annotator_id][1] += checks
    reviews = dict(
        Review.objects.filter(project=project)
        .values("reviewer_id")
        .annotate(n=Count("id"))
        .values_list("reviewer_id", "n")
    )
    _summary, pairs = agreement.agreement_report(project_ratings(project=project))
    agree = agreement.rater_agreement(pairs)
    rows = []
    for membership in members:
        uid = membership.user_id
        row = counts.get(uid, {})
        seconds = times.get(uid) or claim_times.get(uid)
        hits, checks = gold_hits.get(uid, (0, 0))
        rows.append(
            {
                "user": membership.user,
                "role": membership.get_role_display(),
                "submitted": row.get("submitted", 0),
                "accepted": row.get("accepted", 0),
                "rejected": row.get("rejected", 0),
                "per_day": row.get("week", 0) / 7,
                "median_seconds": statistics.median(seconds) if seconds else None,
                "gold_checks": checks,
                "gold_accuracy": hits / checks if checks else None,
                "agreement": agree.get(uid),
                "reviews": reviews.get(uid, 0),
            }
        )
    return rows
