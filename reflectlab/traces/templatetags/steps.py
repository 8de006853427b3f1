"""``{% step_list view prefix %}``: a trace's steps in one Python pass (see ``traces.step_html``)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from reflectlab.traces.presenters import TraceView
from reflectlab.traces.step_html import trace_steps_html

register = template.Library()


@register.simple_tag(takes_context=True)
def step_list(context, view: TraceView, prefix: str = "") -> SafeString:
    """The step region of ``view``. Closed folds load on demand from ``steps_url``
    in the context (when set); ``folds_open`` draws every fold open."""
    return trace_steps_html(
        view,
        prefix,
        fragment_url=context.get("steps_url") or None,
        open_all=bool(context.get("folds_open")),
    )
