"""Writing prompt rows, below the import job: traces write their prompts through here
without depending on the import job that may have called them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reflectlab.projects.models import Project
from reflectlab.prompts.models import Prompt

BATCH_SIZE = 1000


def prompts_upsert(
    *,
    project: Project,
    records: Iterable[dict[str, Any]],
    import_job_id: int | None = None,
    key_order: bool = False,
) -> tuple[dict[str, int], int]:
    """Create the prompts not yet in the project; return ``{external_id: pk}`` and the count created.

    Existing prompts are left untouched, so re-importing a file changes nothing.
    ``key_order``: insert in id order (concurrent writers lock in one order).
    """
    by_id: dict[str, dict[str, Any]] = {}
    for record in records:
        by_id.setdefault(record["external_id"], record)
    existing = dict(
        Prompt.objects.filter(project=project, external_id__in=list(by_id)).values_list(
            "external_id", "pk"
        )
    )
    keys = sorted(by_id) if key_order else by_id
    new = [
        Prompt(project=project, import_job_id=import_job_id, **by_id[key])
        for key in keys
        if key not in existing
    ]
    Prompt.objects.bulk_create(new, batch_size=BATCH_SIZE, ignore_conflicts=True)
    if new:
        existing |= dict(
            Prompt.objects.filter(
                project=project, external_id__in=[p.external_id for p in new]
            ).values_list("external_id", "pk")
        )
    return existing, len(new)
