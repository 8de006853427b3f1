from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from reflectlab.projects.models import Project
from reflectlab.runs.models import Run, RunItem


def run_list(*, project: Project) -> QuerySet[Run]:
    return Run.objects.filter(project=project).select_related("model_config").order_by("-id")


def run_detail(*, run_id: int) -> QuerySet[Run]:
    return Run.objects.select_related("model_config", "project", "created_by")


def run_failed_items(*, run: Run, limit: int = 200) -> QuerySet[RunItem]:
    return (
        RunItem.objects.filter(run=run, state=RunItem.State.FAILED)
        .select_related("prompt")
        .only("id", "sample_index", "attempts", "error", "prompt__external_id", "prompt_id")
        .order_by("id")[:limit]
    )


@dataclass(frozen=True)
class Progress:
    percent: int
    finished: int
    remaining: int
    elapsed_s: float
    per_second: float | None
    tokens_per_second: float | None
    eta_s: float | None
    mean_latency_ms: int | None


def run_progress(*, run: Run) -> Progress:
    """Throughput and ETA from the run's counters (no extra queries)."""
    finished = run.items_finished
    remaining = max(0, run.items_total - finished)
    elapsed = 0.0
    if run.started_at:
        elapsed = ((run.finished_at or timezone.now()) - run.started_at).total_seconds()
    rate = finished / elapsed if elapsed > 0 and finished else None
    tokens = run.tokens_completion / elapsed if elapsed > 0 and run.tokens_completion else None
    return Progress(
        percent=run.percent,
        finished=finished,
        remaining=remaining,
        elapsed_s=elapsed,
        per_second=rate,
        tokens_per_second=tokens,
        eta_s=remaining / rate if rate and remaining and not run.is_terminal else None,
        mean_latency_ms=int(run.latency_total_ms / run.items_done) if run.items_done else None,
    )
