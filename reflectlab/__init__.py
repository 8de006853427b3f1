"""reflectlab: human-in-the-loop annotation of LLM reasoning traces.

The Celery app is loaded by ``reflectlab.core.apps.CoreConfig.ready`` (not
here), so ``reflectlab.analysis`` stays importable without Django.
"""

__version__ = "0.1.0"
