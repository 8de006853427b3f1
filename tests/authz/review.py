from datetime import timedelta

from django.utils import timezone

from reflectlab.annotations.models import Annotation
from reflectlab.review.models import Claim, GoldItem
from tests.authz import Rule

P = lambda w: {"project_id": w.project.pk}  # noqa: E731


def _claim(w):
    """A live claim held by the world's annotator (others may release, not renew it)."""
    claim = Claim.objects.create(
        project=w.project,
        trace=w.trace,
        user=w.users["annotator"],
        slot=0,
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    return {"claim_id": claim.pk}


def _annotation(w):
    annotation = Annotation.objects.create(
        project=w.project,
        trace=w.trace,
        annotator=w.users["annotator"],
        first_error_step=1,
        verdict="incorrect",
        state=Annotation.State.SUBMITTED,
        submitted_at=timezone.now(),
    )
    return {"annotation_id": annotation.pk}


def _gold(w):
    gold = GoldItem.objects.create(project=w.project, trace=w.trace, expected_first_error_step=-1)
    return {**P(w), "gold_id": gold.pk}


RULES = {
    "review:queue": Rule("annotator", P),
    "review:next": Rule("annotator", P, methods=("POST",)),
    "review:policy": Rule(
        "manager",
        P,
        methods=("POST",),
        data=lambda w: {"order_1": "wrong_first", "correctness": "any", "gold_rate": "0.1"},
    ),
    "review:pin": Rule(
        "manager", P, methods=("POST",), data=lambda w: {"trace_id": w.trace.pk, "pinned": "1"}
    ),
    "review:gold-add": Rule(
        "manager",
        P,
        methods=("POST",),
        data=lambda w: {"trace_id": w.trace.pk, "expected_first_error_step": "-1"},
    ),
    "review:gold-remove": Rule("manager", _gold, methods=("POST",)),
    "review:my-work": Rule("annotator", P),
    "review:inbox": Rule("reviewer", P),
    "review:review-next": Rule("reviewer", P, methods=("POST",)),
    "review:stats": Rule("reviewer", P),
    "review:agreement": Rule("reviewer", P),
    "review:claim-release": Rule("annotator", _claim, methods=("POST",)),
    "review:claim-heartbeat": Rule("annotator", _claim, methods=("POST",)),
    "review:annotation": Rule(
        "reviewer",
        _annotation,
        methods=("GET", "POST"),
        data=lambda w: {"decision": "accept", "version": "1"},
    ),
    "api-queue": Rule("annotator", P, api=True),
    "api-queue-next": Rule("annotator", P, api=True, methods=("POST",)),
    "api-queue-policy": Rule("manager", P, api=True, methods=("GET", "PUT")),
    "api-review-next": Rule("reviewer", P, api=True, methods=("POST",)),
    "api-agreement": Rule("reviewer", P, api=True),
    "api-claim-release": Rule("annotator", _claim, api=True, methods=("POST",)),
    "api-claim-heartbeat": Rule("annotator", _claim, api=True, methods=("POST",)),
    "api-annotation-review": Rule(
        "reviewer",
        _annotation,
        api=True,
        methods=("POST",),
        data=lambda w: {"decision": "accept"},
    ),
}
