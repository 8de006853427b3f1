from __future__ import annotations

import re

from django import template
from django.utils import timezone

from reflectlab.projects.models import Membership

register = template.Library()


@register.filter
def short_model(name: str) -> str:
    """``deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B`` → ``DeepSeek-R1-Distill-Qwen-1.5B``."""
    return (name or "").rsplit("/", 1)[-1]


@register.simple_tag(takes_context=True)
def role_in(context, project) -> str:
    """The current user's role in ``project`` ('' if none), one query per request."""
    request = context.get("request")
    if request is None or project is None or not request.user.is_authenticated:
        return ""
    membership = getattr(request, "membership", None)
    if membership is not None and membership.project_id == project.pk:
        return membership.role
    cache = request.__dict__.setdefault("_reflectlab_roles", {})
    if project.pk not in cache:
        cache[project.pk] = (
            Membership.objects.filter(project_id=project.pk, user_id=request.user.pk)
            .values_list("role", flat=True)
            .first()
            or ""
        )
    return cache[project.pk]


# GSM8K calculator annotations: "48/2=<<48/2=24>>24" reads "48/2=24".
_CALCULATOR = re.compile(r"<<[^<>]*>>")
_MATH_DELIMITERS = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$")
_LATEX_SYMBOLS = {
    "times": "\u00d7",
    "cdot": "·",
    "div": "÷",
    "pm": "±",
    "le": "≤",
    "leq": "≤",
    "ge": "≥",
    "geq": "≥",
    "neq": "≠",
    "ne": "≠",
    "approx": "≈",
    "pi": "π",
    "infty": "∞",
    "circ": "°",
    "degree": "°",
    "ldots": "…",
    "dots": "…",
    "cdots": "…",
    "quad": " ",
    "qquad": " ",
    "left": "",
    "right": "",
    "displaystyle": "",
}
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
_WRAPPER = re.compile(r"\\(?:boxed|text|textbf|mathrm|mathbf|operatorname|mbox)\s*\{([^{}]*)\}")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
# Inline $…$ by Pandoc's rule: the opening $ has a non-space on its right, the
# closing one a non-space on its left and no digit after it, so "$12 and $5"
# stays money.
_INLINE_DOLLARS = re.compile(r"(?<![\\$])\$(?=\S)([^$\n]*?\S)\$(?!\d)")
_SUPERSCRIPT = re.compile(r"\^\{?([0-9]+)\}?")
_SUPERSCRIPT_DIGITS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@register.filter
def plain_text(value: str) -> str:
    """Model or dataset text for a one-line cell: no GSM8K ``<<…>>`` markup, LaTeX as plain text.

    The result is still escaped by the template (this never marks anything safe).
    """
    text = _CALCULATOR.sub("", value or "")
    text = _MATH_DELIMITERS.sub("", text)
    text = _INLINE_DOLLARS.sub(r"\1", text)
    text = _SUPERSCRIPT.sub(lambda m: m.group(1).translate(_SUPERSCRIPT_DIGITS), text)
    for _ in range(3):  # nested \frac{\sqrt{2}}{2}
        text = _FRAC.sub(r"\1/\2", text)
        text = _SQRT.sub(r"√\1", text)
        text = _WRAPPER.sub(r"\1", text)
    text = _COMMAND.sub(lambda m: _LATEX_SYMBOLS.get(m.group(1), m.group(1)), text)
    text = text.replace("\\,", " ").replace("\\!", "").replace("\\;", " ").replace("\\\\", " ")
    text = text.replace("{", "").replace("}", "")
    return " ".join(text.split())


@register.filter
def when(value) -> str:
    """The one way the site writes a date and time: ``2026-12-03 16:32`` in the site's zone."""
    if not value:
        return "\u2013"
    if hasattr(value, "tzinfo") and value.tzinfo is not None:
        value = timezone.localtime(value)
    return value.strftime("%Y-%m-%d %H:%M")


@register.filter
def number(value, digits: int = 4):
    """A float as people write it: ``0.09999999999999998`` → ``0.1``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.{int(digits)}g}"


@register.filter
def setting(value) -> str:
    """A stored setting for reading: numbers as ``number`` writes them, dicts as ``k: v``."""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {setting(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(setting(v) for v in value)
    return str(number(value))
