"""Deployment checks of our own, run by ``manage.py check --deploy``."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def static_files_collected(app_configs, **kwargs):
    """With DEBUG off the pages need their CSS and JS from ``collectstatic``."""
    root = settings.STATIC_ROOT
    if root and (root / "css" / "app.css").is_file():
        return []
    return [
        Warning(
            f"STATIC_ROOT ({root}) holds no collected static files: with DEBUG off the "
            "pages would have no CSS or JavaScript.",
            hint="Run `python manage.py collectstatic --noinput` (README, Deploying).",
            id="reflectlab.W001",
        )
    ]
