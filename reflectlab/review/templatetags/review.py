"""``{% load review %}{% claim_lease trace %}`` — the lease widget for a trace page.

Shows the user's live claim on the trace (expiry, skip) and renews it every
60 s while the page is open; renders nothing when the user holds no claim.
"""

from __future__ import annotations

from django import template
from django.utils import timezone

from reflectlab.review.models import Claim

register = template.Library()


@register.inclusion_tag("review/_lease.html", takes_context=True)
def claim_lease(context, trace):
    request = context.get("request")
    user = getattr(request, "user", None)
    claim = None
    if user is not None and user.is_authenticated:
        claim = (
            Claim.objects.filter(
                trace=trace,
                user_id=user.pk,
                kind=Claim.Kind.ANNOTATE,
                state=Claim.State.ACTIVE,
                expires_at__gt=timezone.now(),
            )
            .order_by("-created_at")
            .first()
        )
    return {
        "claim": claim,
        "lost": False,
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
