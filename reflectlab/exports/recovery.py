"""After a worker died mid-export: which exports to enqueue again, and which
temporary folders nobody will ever finish (called when a worker starts)."""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from reflectlab.core.jobs import job_lease_seconds, jobs_to_resume
from reflectlab.exports.models import WORK_PREFIX, Export

logger = logging.getLogger(__name__)


def exports_recover() -> list[int]:
    """Remove abandoned work folders; return the exports to enqueue
    (queued ones, and running ones whose worker's lease lapsed)."""
    exports_tmp_clean()
    return jobs_to_resume(Export)


def exports_tmp_clean() -> int:
    """Delete temporary folders of exports that no live worker holds.

    A folder younger than one lease is kept: its worker may have claimed the
    export a moment ago.
    """
    root = Path(settings.REFLECTLAB_WORK_DIR)
    if not root.is_dir():
        return 0
    owner_of = re.compile(rf"{re.escape(WORK_PREFIX)}(\d+)-")
    held = set(
        Export.objects.filter(
            state=Export.State.RUNNING, lease_until__gte=timezone.now()
        ).values_list("pk", flat=True)
    )
    cutoff = time.time() - job_lease_seconds()
    removed = 0
    for folder in root.glob(f"{WORK_PREFIX}*"):
        owner = owner_of.match(folder.name)
        if owner is None or int(owner[1]) in held:
            continue
        if folder.stat().st_mtime > cutoff:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    if removed:
        logger.info("removed %d abandoned export folders", removed)
    return removed
