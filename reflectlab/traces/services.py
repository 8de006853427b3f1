"""Writing traces (imports, runs, regenerations) and keeping their analysis current."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from reflectlab import analysis
from reflectlab.projects.models import Project
from reflectlab.prompts.writes import prompts_upsert
from reflectlab.traces.analysis import ANALYSIS_FIELDS, analysis_columns, lexicon_for
from reflectlab.traces.grading import shared_grading
from reflectlab.traces.models import Trace

BATCH_SIZE = 500


def traces_write(
    *,
    project: Project,
    records: list[dict[str, Any]],
    import_job_id: int | None = None,
    key_order: bool = False,
) -> tuple[int, int]:
    """Import cleaned trace records (see ``prompts.parsing.clean_trace``), analysed.

    Returns (written, skipped); a trace whose external id is already in the
    project is skipped, so re-imports change nothing. A few queries per batch,
    whatever its size (grades shared across workers: ``traces.grading``).
    ``import_job_id`` tags the rows (and the prompts created) with their import;
    ``key_order`` inserts the prompts in id order, so that concurrent writers
    of one file wait on each other's shared prompts without deadlocking.
    """
    existing = set(
        Trace.objects.filter(
            project=project, external_id__in=[r["external_id"] for r in records]
        ).values_list("external_id", flat=True)
    )
    fresh: list[dict[str, Any]] = []
    for record in records:
        if record["external_id"] not in existing:
            existing.add(record["external_id"])
            fresh.append(record)
    references = {r["prompt"]["external_id"]: r["prompt"]["reference_answer"] for r in fresh}
    # Analyse first, insert after: the prompt rows this batch inserts stay locked
    # until it commits, and a concurrent chunk sharing a prompt waits for that —
    # for the inserts only, not for the analysis.
    with shared_grading(references.values()):
        new = [_imported_trace(project, record, references, import_job_id) for record in fresh]
    # Prompts only for the traces that will be written: a skipped trace (already
    # imported, or a repeated line) must not leave a prompt without traces.
    prompt_ids, _ = prompts_upsert(
        project=project,
        records=[r["prompt"] for r in fresh],
        import_job_id=import_job_id,
        key_order=key_order,
    )
    for trace, record in zip(new, fresh, strict=True):
        trace.prompt_id = prompt_ids[record["prompt"]["external_id"]]
    Trace.objects.bulk_create(new, batch_size=BATCH_SIZE, ignore_conflicts=True)
    return len(new), len(records) - len(new)


def _imported_trace(
    project: Project,
    record: dict[str, Any],
    references: dict[str, str],
    import_job_id: int | None,
) -> Trace:
    prompt_key = record["prompt"]["external_id"]
    return Trace(
        project=project,
        import_job_id=import_job_id,
        origin=Trace.Origin.IMPORT,
        external_id=record["external_id"],
        model_name=record["model"],
        raw_response=record["response"],
        reasoning=record["reasoning"],
        finish_reason=record["finish_reason"],
        prompt_tokens=record["prompt_tokens"],
        completion_tokens=record["completion_tokens"],
        **analysis_columns(
            response=record["response"],
            reasoning=record["reasoning"],
            reference=references[prompt_key],
            finish_reason=record["finish_reason"],
            lexicon_overrides=project.lexicon,
        ),
    )


def trace_analyze(*, trace: Trace, save: bool = True) -> Trace:
    """(Re)compute the stored analysis of one trace."""
    columns = analysis_columns(
        response=trace.raw_response,
        reasoning=trace.reasoning,
        reference=trace.prompt.reference_answer,
        finish_reason=trace.finish_reason,
        logprobs=trace.logprobs,
        lexicon_overrides=trace.project.lexicon,
        known_final_correct=trace.known_final_correct,
    )
    for name, value in columns.items():
        setattr(trace, name, value)
    if save:
        trace.save(update_fields=list(columns))
    return trace


def current_version(project: Project) -> str:
    """The analyser + lexicon version a trace of this project should carry."""
    return analysis.analyzer_version(lexicon_for(project.lexicon))


def traces_reanalyze(
    *,
    project: Project | None = None,
    force: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Re-analyse traces made by another analyser or lexicon version (or all)."""
    projects = [project] if project is not None else list(Project.objects.all())
    done = 0
    for each in projects:
        queryset = Trace.objects.select_related("prompt", "project").filter(
            project=each, state=Trace.State.READY
        )
        if not force:
            queryset = queryset.exclude(analyzer_version=current_version(each))
        batch: list[Trace] = []
        for trace in queryset.iterator(chunk_size=BATCH_SIZE):
            batch.append(trace)
            if len(batch) >= BATCH_SIZE:
                done += save_analyses(batch)
                if on_progress:
                    on_progress(done)
        done += save_analyses(batch)
    return done


def save_analyses(batch: list[Trace]) -> int:
    """Re-analyse ``batch`` (grades shared across workers), store it, empty it; returns its size."""
    with shared_grading(t.prompt.reference_answer for t in batch):
        for trace in batch:
            trace_analyze(trace=trace, save=False)
    with transaction.atomic():
        Trace.objects.bulk_update(batch, list(ANALYSIS_FIELDS))
    count = len(batch)
    batch.clear()
    return count
