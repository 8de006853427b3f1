"""Serve the plotly.js that ships inside the ``plotly`` package as a static file.

A staticfiles finder rather than a vendored copy: the 4.8 MB bundle stays in
the installed package (one source of truth, upgraded with ``pip``), yet it
goes through the ordinary static pipeline — ``{% static %}``, ``runserver``,
WhiteNoise, ``collectstatic`` into ``STATIC_ROOT`` for production, and the
live-server of the browser tests. The plotly.js version is part of the name
(``vendor/plotly-4.1.1.min.js``) so the file can be cached for ever and a new
``plotly`` release changes the URL.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage


@cache
def plotly_js_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return get_plotlyjs_version()


@cache
def plotly_static_path() -> str:
    """The name under ``STATIC_URL``, e.g. ``vendor/plotly-4.1.1.min.js``."""
    return f"vendor/plotly-{plotly_js_version()}.min.js"


def _package_data() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data"


class PlotlyStorage(FileSystemStorage):
    """The package's ``plotly.min.js``, answering to its versioned static name only."""

    def __init__(self):
        super().__init__(location=str(_package_data()))

    def path(self, name: str) -> str:
        if name.replace("\\", "/") != plotly_static_path():
            raise FileNotFoundError(name)
        return super().path("plotly.min.js")


class PlotlyFinder(BaseFinder):
    """Finds ``vendor/plotly-<version>.min.js`` (add it to ``STATICFILES_FINDERS``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = PlotlyStorage()

    def check(self, **kwargs):
        from django.core.checks import Error

        if not (_package_data() / "plotly.min.js").is_file():
            return [Error("plotly is installed without package_data/plotly.min.js.")]
        return []

    def find(self, path, find_all=False):
        if path.replace("\\", "/") == plotly_static_path():
            match = self.storage.path(path)
            return [match] if find_all else match
        return []  # like Django's own finders: an empty list, never None

    def list(self, ignore_patterns):
        yield plotly_static_path(), self.storage
