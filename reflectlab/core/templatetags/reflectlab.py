from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def short_model(name: str) -> str:
    """``deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B`` → ``DeepSeek-R1-Distill-Qwen-1.5B``."""
    return (name or "").rsplit("/", 1)[-1]
