"""reflectlab: human-in-the-loop annotation of LLM reasoning traces."""

__version__ = "0.1.0"

from reflectlab.celery import app as celery_app

__all__ = ["__version__", "celery_app"]
