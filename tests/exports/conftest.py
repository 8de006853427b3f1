from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _exports_dir(request, settings, tmp_path):
    # A real worker process reads the default folder (one per database), so
    # only in-process tests get a private one.
    if request.node.get_closest_marker("worker") is None:
        settings.REFLECTLAB_EXPORTS_DIR = tmp_path / "exports"
        settings.REFLECTLAB_WORK_DIR = tmp_path / "work"


@pytest.fixture
def run_export(project, user):
    """Create and run an export in-process; returns the refreshed Export."""
    from reflectlab.exports import services

    def run(kind, format="jsonl", filters=None, options=None):
        export = services.export_create(
            project=project,
            user=user,
            kind=kind,
            format=format,
            filters=filters,
            options=options,
            enqueue=False,
        )
        services.export_execute(export_id=export.pk)
        export.refresh_from_db()
        return export

    return run
