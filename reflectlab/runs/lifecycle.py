"""The life of a run-like job (``RunBase``: a run, a judge run), shared by both services.

Create (the row, its work list and the tasks, in one transaction; the tasks
leave after commit), work (the executor's threads over the items), cancel,
fail everything, finalize — each compare-and-set on
the state, so two workers (or a worker and a cancel) never both win. A job's
items are the rows behind its ``items`` relation (``RunItem``, ``JudgeItem``):
each has ``run``, ``state`` with PENDING/RUNNING/FAILED/CANCELLED, ``error``
and ``holder``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from reflectlab.core.limits import MAX_ERROR_CHARS
from reflectlab.providers.base import PermanentProviderError
from reflectlab.providers.registry import provider_for
from reflectlab.runs import conf
from reflectlab.runs.models import RunBase


def _items(model: type[RunBase]) -> type[models.Model]:
    return model.items.rel.related_model


def creator(user: Any) -> Any:
    """The user to record as ``created_by`` (None for anonymous callers, commands)."""
    return user if getattr(user, "is_authenticated", False) else None


def job_create[J: RunBase](
    *,
    model: type[J],
    user: Any,
    items_total: int,
    add_work: Callable[[J], None],
    enqueue: Callable[[int], None] | None,
    **fields: Any,
) -> J:
    """Create a queued job, let ``add_work`` write its work list, and send
    ``REFLECTLAB_RUN_TASKS`` tasks after commit (``enqueue=None``: the caller
    executes it)."""
    with transaction.atomic():
        job = model.objects.create(items_total=items_total, created_by=creator(user), **fields)
        add_work(job)
        for _ in range(int(conf.get("REFLECTLAB_RUN_TASKS")) if enqueue else 0):
            enqueue(job.pk)
    return job


def job_cancel(*, job: RunBase) -> bool:
    """Stop a job: compare-and-set; pending items are cancelled, in-flight ones finish."""
    model, items = type(job), _items(type(job))
    with transaction.atomic():
        changed = model.objects.filter(
            pk=job.pk, state__in=[model.State.QUEUED, model.State.RUNNING]
        ).update(state=model.State.CANCELLED, finished_at=timezone.now())
        if changed:
            items.objects.filter(run_id=job.pk, state=items.State.PENDING).update(
                state=items.State.CANCELLED
            )
    job.refresh_from_db()
    return bool(changed)


def job_fail_all(*, job: RunBase, message: str) -> None:
    """Every unfinished item fails with ``message`` (the provider cannot be built)."""
    model, items = type(job), _items(type(job))
    with transaction.atomic():
        failed = items.objects.filter(
            run_id=job.pk, state__in=[items.State.PENDING, items.State.RUNNING]
        ).update(state=items.State.FAILED, error=message[:MAX_ERROR_CHARS], holder="")
        model.objects.filter(pk=job.pk).update(items_failed=F("items_failed") + failed)


def job_work(
    *,
    job: RunBase,
    executor: Callable[..., Any],
    finalize: Callable[..., bool],
    on_item: Callable[[], None] | None = None,
) -> None:
    """Call the job's model for its items until none is left to claim, then
    finalize. A config whose provider cannot be built fails every item at once."""
    config = job.model_config
    try:
        provider = provider_for(config)
    except PermanentProviderError as exc:
        job_fail_all(job=job, message=str(exc))
    else:
        threads = max(1, min(config.max_concurrency, int(conf.get("REFLECTLAB_RUN_MAX_THREADS"))))
        try:
            executor(job, provider, threads).execute(on_item=on_item)
        finally:
            provider.close()
    finalize(run_id=job.pk)


def _error_summary(items: type[models.Model], job_id: int) -> str:
    errors = Counter(
        (e or "")[:160]
        for e in items.objects.filter(run_id=job_id, state=items.State.FAILED).values_list(
            "error", flat=True
        )
    )
    return "\n".join(f"{n}x {message}" for message, n in errors.most_common(10))


def job_finalize(*, model: type[RunBase], job_id: int) -> bool:
    """Close a running job whose items are all finished (compare-and-set): failed
    when nothing succeeded, else succeeded, with the most common errors."""
    items = _items(model)
    if items.objects.filter(
        run_id=job_id, state__in=[items.State.PENDING, items.State.RUNNING]
    ).exists():
        return False
    job = model.objects.only("items_done", "items_failed").get(pk=job_id)
    state = model.State.FAILED if job.items_failed and not job.items_done else model.State.SUCCEEDED
    return bool(
        model.objects.filter(pk=job_id, state=model.State.RUNNING).update(
            state=state, finished_at=timezone.now(), error_summary=_error_summary(items, job_id)
        )
    )
