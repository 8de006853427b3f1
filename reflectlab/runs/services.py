"""Runs (sampling k traces per prompt on workers) and regeneration from a hint.

How a run executes (``run_execute``, called by ``tasks.run_execute_task``):

* one task execution is one *holder*; it runs a pool of threads (as many as
  the config's ``max_concurrency``, capped), because model calls are I/O bound
  and one worker process must keep dozens of requests in flight;
* the dispatcher (the task's main thread) claims items in chunks
  (compare-and-set, ``SKIP LOCKED`` on PostgreSQL) and keeps a few queued
  beyond the threads; each thread calls the provider under an endpoint slot
  (``leases.SlotBlock`` over ``leases.EndpointSemaphore``: the limit holds
  across all workers, slots are taken from the database a block at a time),
  and the dispatcher writes finished items in batches — traces, items and the
  run counters in one transaction (see ``execution``);
* transient errors (429/5xx/timeouts/resets) are retried in place with
  exponential backoff and jitter, honouring ``Retry-After``, the slot released
  while waiting; anything else, or the last attempt, is recorded on the item;
* a SIGKILLed worker leaves claims whose leases run out (or whose process is
  seen dead); ``runs_resume`` — on every worker start — enqueues the run
  again and the items are taken again. The Trace constraint unique (run,
  prompt, sample_index) and the item's compare-and-set make a second write
  impossible, so nothing is lost and nothing is duplicated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from reflectlab.projects.models import Project
from reflectlab.prompts.models import Prompt
from reflectlab.providers.models import ModelConfig
from reflectlab.runs import conf
from reflectlab.runs.continuation import continuation_prefix, trace_continue
from reflectlab.runs.execution import Executor
from reflectlab.runs.lifecycle import job_cancel, job_create, job_finalize, job_work
from reflectlab.runs.models import Run, RunItem
from reflectlab.traces.models import Trace

# The worker side of regeneration lives in ``continuation``; these names stay here.
__all__ = ["continuation_prefix", "trace_continue"]

logger = logging.getLogger(__name__)

MAX_SAMPLES = 64
ITEM_BATCH = 1000


# -- creating, cancelling, finishing -------------------------------------------


def run_prompts(*, project: Project, prompt_ids: list[int] | None = None, q: str = "") -> QuerySet:
    """The prompts a run covers: all, those matching ``q``, or a selection."""
    prompts = Prompt.objects.filter(project=project)
    if q:
        prompts = prompts.filter(Q(text__icontains=q) | Q(external_id__icontains=q))
    if prompt_ids is not None:
        prompts = prompts.filter(pk__in=prompt_ids)
    return prompts.order_by("id")


def run_create(
    *,
    project: Project,
    model_config: ModelConfig,
    user,
    samples_per_prompt: int = 1,
    prompt_ids: list[int] | None = None,
    q: str = "",
    enqueue: bool = True,
    mode: str = Run.Mode.LIVE,
) -> Run:
    """Create a queued run and hand it to the workers once the transaction commits
    (``enqueue=False``: the caller executes it, as ``run_model --inline`` does).

    A ``batch`` run is never executed by workers: its requests leave as an
    OpenAI Batch file and its traces come back from the results file (``batch``).
    """
    from reflectlab.runs.tasks import run_execute_task

    if model_config.project_id != project.pk:
        raise ValidationError({"model_config": "This model config belongs to another project."})
    if not 1 <= samples_per_prompt <= MAX_SAMPLES:
        raise ValidationError(
            {"samples_per_prompt": f"Choose between 1 and {MAX_SAMPLES} samples per prompt."}
        )
    ids = list(
        run_prompts(project=project, prompt_ids=prompt_ids, q=q).values_list("pk", flat=True)
    )
    if not ids:
        raise ValidationError({"prompts": "No prompts match; import prompts or widen the choice."})
    if mode not in Run.Mode.values:
        raise ValidationError({"mode": f"mode must be one of {Run.Mode.values}."})
    if mode == Run.Mode.BATCH:
        enqueue = False

    def add_prompts(run: Run) -> None:
        through = Run.prompts.through
        through.objects.bulk_create(
            [through(run_id=run.pk, prompt_id=pk) for pk in ids], batch_size=ITEM_BATCH
        )

    return job_create(
        model=Run,
        user=user,
        items_total=len(ids) * samples_per_prompt,
        add_work=add_prompts,
        enqueue=run_execute_task.delay_on_commit if enqueue else None,
        project=project,
        model_config=model_config,
        mode=mode,
        samples_per_prompt=samples_per_prompt,
    )


def run_cancel(*, run: Run) -> bool:
    """Stop a run: compare-and-set; pending items are cancelled, in-flight ones finish."""
    return job_cancel(job=run)


def run_finalize(*, run_id: int) -> bool:
    """Close a running run whose items are all finished (compare-and-set)."""
    return job_finalize(model=Run, job_id=run_id)


def items_ensure(run: Run) -> None:
    """Create the run's items (idempotent: the unique constraint skips existing ones).

    One ``INSERT … SELECT … ON CONFLICT DO NOTHING`` per sample, straight from
    the run's prompt list (SQLite and PostgreSQL both speak it): building a
    model instance per item cost the worker more than its first requests, and
    a run of 10,000 prompts x 64 samples would build 640,000 of them.
    """
    if RunItem.objects.filter(run_id=run.pk).count() >= run.items_total:
        return
    qn = connection.ops.quote_name
    item, through = RunItem._meta, Run.prompts.through._meta
    columns = ("run", "prompt", "sample_index", "state", "attempts", "error", "holder")
    prompt_column = qn(through.get_field("prompt").column)
    # Names come from the models' meta, values are parameters.
    sql = (
        f"INSERT INTO {qn(item.db_table)} "  # noqa: S608
        f"({', '.join(qn(item.get_field(name).column) for name in (*columns, 'updated_at'))}) "
        f"SELECT %s, {prompt_column}, %s, %s, 0, '', '', %s FROM {qn(through.db_table)} "
        f"WHERE {qn(through.get_field('run').column)} = %s ORDER BY {prompt_column} "
        "ON CONFLICT DO NOTHING"
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic(), connection.cursor() as cursor:
        # Sample-major order: every prompt gets its first sample before any gets a second.
        for sample in range(run.samples_per_prompt):
            cursor.execute(sql, [run.pk, sample, RunItem.State.PENDING, now, run.pk])


def runs_resume() -> int:
    """Enqueue every unfinished run again (called when a worker starts).

    Duplicated tasks are harmless: items are claimed compare-and-set. Pending
    regenerations older than a lease are enqueued again too.
    """
    from reflectlab.runs.tasks import run_execute_task, trace_continue_task

    count = 0
    unfinished = Run.objects.filter(state__in=[Run.State.QUEUED, Run.State.RUNNING])
    for run_id in unfinished.filter(mode=Run.Mode.LIVE).values_list("pk", flat=True):
        run_execute_task.delay(run_id)
        count += 1
    stale = timezone.now() - timedelta(seconds=conf.get("REFLECTLAB_RUN_LEASE_SECONDS"))
    for branch in Trace.objects.filter(
        origin=Trace.Origin.REGENERATION, state=Trace.State.PENDING, created_at__lt=stale
    ).select_related("parent__run", "model_config"):
        config = _resume_config(branch)
        if config is not None:
            trace_continue_task.delay(branch.pk, config.pk)
            count += 1
    return count


def _resume_config(branch: Trace) -> ModelConfig | None:
    if branch.model_config_id is not None:
        return branch.model_config
    configs = ModelConfig.objects.filter(project_id=branch.project_id)
    return (
        configs.filter(model=branch.model_name, continuation_mode=branch.continuation_mode)
        .order_by("-created_at", "-id")
        .first()
    )


# -- executing -----------------------------------------------------------------


def run_execute(*, run_id: int, on_item: Callable[[], None] | None = None) -> Run:
    """Work on a run until no item is left to claim; safe to call any number of times."""
    now = timezone.now()
    Run.objects.filter(pk=run_id, state=Run.State.QUEUED, mode=Run.Mode.LIVE).update(
        state=Run.State.RUNNING, started_at=now
    )
    run = Run.objects.select_related("model_config", "project").get(pk=run_id)
    if run.state != Run.State.RUNNING or run.mode != Run.Mode.LIVE:
        return run  # finished, cancelled, or a batch run (its results come from a file)
    items_ensure(run)
    job_work(job=run, executor=Executor, finalize=run_finalize, on_item=on_item)
    return Run.objects.get(pk=run_id)


# -- regeneration from a hint ----------------------------------------------------


def regeneration_config(*, trace: Trace, model_config: ModelConfig | None = None) -> ModelConfig:
    """The config given, else the trace's run's, else the project's most recent."""
    config = model_config
    if config is None and trace.run_id:
        config = trace.run.model_config
    if config is None:
        config = (
            ModelConfig.objects.filter(project_id=trace.project_id)
            .order_by("-created_at", "-id")
            .first()
        )
    if config is None:
        raise ValidationError(
            "This project has no model config to regenerate with; add one under Models."
        )
    if config.project_id != trace.project_id:
        raise ValidationError({"model_config": "This model config belongs to another project."})
    return config


def trace_regenerate(
    *,
    trace: Trace,
    step_index: int,
    hint: str,
    user,
    model_config: ModelConfig | None = None,
) -> Trace:
    """Start a continuation of ``trace`` from the marked step with an expert's hint.

    Creates the branch at once (state PENDING, linked to its parent, step and
    hint, with the continuation mode) and enqueues the generation after commit;
    the worker fills it in (``trace_continue``). ``step_index`` is the index of
    the marked — first wrong — step in the parent's analysis: the model keeps the
    thinking *before* that step, reads the hint in its place, and continues.
    """
    from reflectlab.runs.tasks import trace_continue_task

    hint = (hint or "").strip()
    if not hint:
        raise ValidationError({"hint": "Write a hint."})
    if trace.state != Trace.State.READY:
        raise ValidationError("Only a finished trace can be regenerated.")
    steps = (trace.analysis or {}).get("steps") or []
    if not isinstance(step_index, int) or not 0 <= step_index < len(steps):
        raise ValidationError(
            {"step": f"Choose a step between 0 and {len(steps) - 1}."}
            if steps
            else {"step": "This trace has no steps to branch from."}
        )
    config = regeneration_config(trace=trace, model_config=model_config)
    with transaction.atomic():
        branch = Trace.objects.create(
            project_id=trace.project_id,
            prompt_id=trace.prompt_id,
            origin=Trace.Origin.REGENERATION,
            state=Trace.State.PENDING,
            parent=trace,
            # The database keeps these copies current; set here too so the
            # instance agrees with its row.
            parent_final_correct=trace.final_correct,
            parent_thinking_chars=trace.thinking_chars,
            branch_step=step_index,
            hint=hint,
            continuation_mode=config.continuation_mode,
            model_name=config.model,
            model_config=config,
        )
        trace_continue_task.delay_on_commit(branch.pk, config.pk)
    logger.info(
        "user %s regenerates trace %s from step %s", getattr(user, "pk", None), trace.pk, step_index
    )
    return branch
