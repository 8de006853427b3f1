"""Creating, running and cancelling exports (DESIGN §8)."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from reflectlab.core.db import TRANSIENT_DB_ERRORS
from reflectlab.core.errors import error_text
from reflectlab.core.ids import bounded_id
from reflectlab.core.jobs import JobLease, job_claim, new_holder
from reflectlab.core.limits import MAX_ERROR_CHARS
from reflectlab.core.storage import exports_storage, storage_put
from reflectlab.exports.build import ExportCancelled, export_build
from reflectlab.exports.chat_templates import PRESETS, tokenizer_dir
from reflectlab.exports.kinds import VARIANTS
from reflectlab.exports.models import WORK_PREFIX, Export
from reflectlab.exports.openai_format import OPENAI_CONFIGS, OPENAI_KINDS
from reflectlab.exports.schemas import BRANCH_FILTERS, HINT_MODES, REASONING_STYLES
from reflectlab.exports.splits import parse_splits
from reflectlab.projects.models import Project
from reflectlab.traces.selection import clean_filters, clean_ids, selection_parse

logger = logging.getLogger(__name__)

USER_TURN_MESSAGES = (
    "The user_turn hint mode puts the original wrong answer in an assistant turn before "
    "the hint; as one `messages` list, SFTTrainer trains on every assistant turn (with "
    "assistant_only_loss too), so it would learn the wrong answer. Use the "
    "sft_corrected_prompt_completion variant (the original answer and the hint in the "
    "prompt, loss on the corrected continuation only) or the inline/stripped hint modes."
)

FILTER_KEYS = (
    "accepted_only",
    "model",
    "run",
    "annotator",
    "date_from",
    "date_to",
    "exclude_gold",
    # A selection from the trace list (``traces.selection``): chosen ids, or
    # every trace a trace-list filter matches (evaluated when the export runs).
    "trace_ids",
    "traces",
)


# --- validation ---------------------------------------------------------------


def export_normalize(
    *, kind: str, format: str, filters: dict[str, Any] | None, options: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a request and fill every default in, so the manifest records what was done."""
    if kind not in Export.Kind.values:
        raise ValueError(f"Unknown export kind {kind!r}.")
    if format not in Export.Format.values:
        raise ValueError(f"Unknown format {format!r}.")
    if kind == Export.Kind.ALL and format != Export.Format.BUNDLE:
        raise ValueError("Every kind at once is only available as a bundle.")
    if format == Export.Format.OPENAI and kind not in OPENAI_KINDS:
        raise ValueError("The OpenAI format exists for sft_corrected and preference only.")
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise ValueError(f"Unknown filters: {sorted(unknown)}.")
    out_filters: dict[str, Any] = {
        "accepted_only": bool(filters.get("accepted_only", True)),
        "exclude_gold": bool(filters.get("exclude_gold", True)),
    }
    for key in ("model", "annotator"):
        if key in filters:
            out_filters[key] = str(filters[key])
    if "run" in filters:
        out_filters["run"] = bounded_id(filters["run"], "run")
    for key in ("date_from", "date_to"):
        if key in filters:
            out_filters[key] = dt.date.fromisoformat(str(filters[key])).isoformat()
    try:
        if "trace_ids" in filters:
            out_filters["trace_ids"] = clean_ids(filters["trace_ids"])
            if not out_filters["trace_ids"]:
                raise ValueError("trace_ids lists no trace.")
        if "traces" in filters:
            out_filters["traces"] = clean_filters(filters["traces"])
    except ValidationError as exc:
        raise ValueError(" ".join(exc.messages)) from None

    options = dict(options or {})
    out: dict[str, Any] = {
        "hint_mode": options.pop("hint_mode", "inline"),
        "reasoning": options.pop("reasoning", "think_tags"),
        "branch_filter": options.pop("branch_filter", "correct"),
        "neutral_is_good": bool(options.pop("neutral_is_good", True)),
        "seed": str(options.pop("seed", "")),
        "splits": dict(parse_splits(options.pop("splits", None))),
    }
    if options.pop("judge_labels", False):
        out["judge_labels"] = True  # meta_judge_* columns (reflectlab.judges.exporting)
    # Named only when asked for, so earlier exports' options (and bytes) stay the same.
    for key in ("training_template", "tokenizer"):
        value = options.pop(key, "")
        if value:
            out[key] = str(value)
    if out.get("training_template") and out["training_template"] not in PRESETS:
        raise ValueError(f"training_template must be one of {sorted(PRESETS)}.")
    if out.get("tokenizer"):
        tokenizer_dir(out["tokenizer"])  # raises for a name outside REFLECTLAB_TOKENIZERS_DIR
    variant = options.pop("variant", None)
    if options:
        raise ValueError(f"Unknown options: {sorted(options)}.")
    if out["hint_mode"] not in HINT_MODES:
        raise ValueError(f"hint_mode must be one of {HINT_MODES}.")
    if out["reasoning"] not in REASONING_STYLES:
        raise ValueError(f"reasoning must be one of {REASONING_STYLES}.")
    if out["branch_filter"] not in BRANCH_FILTERS:
        raise ValueError(f"branch_filter must be one of {BRANCH_FILTERS}.")
    if out["hint_mode"] == "user_turn" and kind not in ("sft_corrected", "all"):
        raise ValueError("The user_turn hint mode applies to sft_corrected only.")
    if format == Export.Format.OPENAI and out["reasoning"] != "think_tags":
        raise ValueError("OpenAI files carry the reasoning inside the content (think_tags).")
    if format != Export.Format.BUNDLE:
        variants = VARIANTS[kind]
        if out["hint_mode"] == "user_turn":
            if variant == "sft_corrected":
                raise ValueError(USER_TURN_MESSAGES)
            variant = variant or "sft_corrected_prompt_completion"
        variant = variant or variants[0]
        if variant not in variants:
            raise ValueError(f"variant must be one of {variants}.")
        if format == Export.Format.OPENAI and variant not in OPENAI_CONFIGS:
            raise ValueError("The OpenAI format needs the primary variant.")
        out["variant"] = variant
    return out_filters, out


# --- lifecycle ----------------------------------------------------------------


@transaction.atomic
def export_create(
    *,
    project: Project,
    user: Any,
    kind: str,
    format: str,
    filters: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    enqueue: bool = True,
) -> Export:
    """Record an export and queue it for a worker (``enqueue=False``: the caller runs it)."""
    filters, options = export_normalize(kind=kind, format=format, filters=filters, options=options)
    if "trace_ids" in filters:  # another project's ids are refused, not silently empty
        try:
            selection_parse(project=project, ids=filters["trace_ids"])
        except ValidationError as exc:
            raise ValueError(" ".join(exc.messages)) from None
    export = Export.objects.create(
        project=project,
        kind=kind,
        format=format,
        filters=filters,
        options=options,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if enqueue:
        from reflectlab.exports.tasks import export_task

        export_task.delay_on_commit(export.pk)
    return export


def export_cancel(*, export: Export) -> bool:
    """Compare-and-set: only a queued or running export can be cancelled."""
    changed = Export.objects.filter(
        pk=export.pk, state__in=[Export.State.QUEUED, Export.State.RUNNING]
    ).update(state=Export.State.CANCELLED, finished_at=timezone.now())
    return bool(changed)


def export_execute(*, export_id: int) -> None:
    """Write one export (idempotent: a finished export is left alone).

    Claimed compare-and-set (``core.jobs``): from QUEUED, or from RUNNING only
    when its worker's lease lapsed, so a redelivered task never rebuilds an
    export another worker is writing. Everything is written under a local
    temporary folder, then put into the ``exports`` storage (a rename for a
    local folder, a multipart upload for S3) only on success; a failure or a
    cancellation leaves no object behind. A transient database error goes up
    to the task (which retries) once the folder is removed.
    """
    holder = new_holder()
    if not job_claim(
        model=Export, pk=export_id, holder=holder, started_at=timezone.now(), rows_done=0
    ):
        return
    export = Export.objects.select_related("project").get(pk=export_id)
    storage = exports_storage()
    root = Path(settings.REFLECTLAB_WORK_DIR)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{export_id}-", dir=root))
    key = None
    try:
        with JobLease(Export, export_id, holder) as lease:
            result = export_build(export=export, work=work, lease=lease)
            local = work / result["file_name"]
            size = local.stat().st_size
            key = f"{export.storage_prefix}/{result['file_name']}"
            storage_put(storage=storage, key=key, path=local)
    except ExportCancelled:
        return
    except TRANSIENT_DB_ERRORS:
        raise
    except Exception as exc:
        logger.exception("export %s failed", export_id)
        if key is not None:
            storage.delete(key)  # an upload that broke half-way
        Export.objects.filter(pk=export_id, holder=holder, state=Export.State.RUNNING).update(
            state=Export.State.FAILED,
            error=error_text(exc)[:MAX_ERROR_CHARS],
            finished_at=timezone.now(),
        )
        return
    finally:
        shutil.rmtree(work, ignore_errors=True)
    done = Export.objects.filter(pk=export_id, holder=holder, state=Export.State.RUNNING).update(
        state=Export.State.SUCCEEDED,
        file_name=result["file_name"],
        files=result["files"],
        counts=result["counts"],
        size_bytes=size,
        sha256=result["sha256"],
        rows_done=result["rows_done"],
        notes=result["notes"],
        finished_at=timezone.now(),
        holder="",
        lease_until=None,
    )
    if not done and not Export.objects.filter(pk=export_id, file_name=result["file_name"]).exists():
        storage.delete(key)  # cancelled (or taken over) at the last moment: keep nothing
