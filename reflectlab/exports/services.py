"""Creating, running and cancelling exports (DESIGN §8)."""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone

import reflectlab
from reflectlab.exports import selectors
from reflectlab.exports.kinds import (
    BRANCH_FILTERS,
    HINT_MODES,
    KINDS,
    OPENAI_KINDS,
    REASONING_STYLES,
    SCHEMA_VERSION,
    VARIANTS,
    Config,
    Context,
    Kind,
    openai_row,
    parse_splits,
    splitter,
)
from reflectlab.exports.models import Export
from reflectlab.exports.writers import (
    JsonlSink,
    ParquetSink,
    dataset_card,
    sha256_file,
    write_zip,
)
from reflectlab.projects.models import Project
from reflectlab.traces.models import Trace

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 256
PROGRESS_SECONDS = 0.5
FILTER_KEYS = ("accepted_only", "model", "run", "annotator", "date_from", "date_to", "exclude_gold")


class ExportCancelled(Exception):
    pass


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)


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
        out_filters["run"] = int(filters["run"])
    for key in ("date_from", "date_to"):
        if key in filters:
            import datetime as dt

            out_filters[key] = dt.date.fromisoformat(str(filters[key])).isoformat()

    options = dict(options or {})
    out: dict[str, Any] = {
        "hint_mode": options.pop("hint_mode", "inline"),
        "reasoning": options.pop("reasoning", "think_tags"),
        "branch_filter": options.pop("branch_filter", "correct"),
        "neutral_is_good": bool(options.pop("neutral_is_good", True)),
        "seed": str(options.pop("seed", "")),
        "splits": dict(parse_splits(options.pop("splits", None))),
    }
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
        variant = variant or variants[0]
        if variant not in variants:
            raise ValueError(f"variant must be one of {variants}.")
        if format == Export.Format.OPENAI and variant not in OPENAI_KINDS:
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

    Everything is written under a temporary folder and moved into place only
    on success; a failure or a cancellation leaves no file behind.
    """
    claimed = Export.objects.filter(
        pk=export_id, state__in=[Export.State.QUEUED, Export.State.RUNNING]
    ).update(state=Export.State.RUNNING, started_at=timezone.now(), rows_done=0)
    if not claimed:
        return
    export = Export.objects.select_related("project").get(pk=export_id)
    export.directory.mkdir(parents=True, exist_ok=True)
    work = export.directory / f".tmp-{uuid.uuid4().hex}"
    work.mkdir()
    try:
        result = _build(export, work)
        final = export.directory / result["file_name"]
        os.replace(work / result["file_name"], final)
        final.chmod(0o444)
    except ExportCancelled:
        shutil.rmtree(work, ignore_errors=True)
        return
    except Exception as exc:
        logger.exception("export %s failed", export_id)
        shutil.rmtree(work, ignore_errors=True)
        Export.objects.filter(pk=export_id).exclude(state=Export.State.CANCELLED).update(
            state=Export.State.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        return
    shutil.rmtree(work, ignore_errors=True)
    done = Export.objects.filter(pk=export_id, state=Export.State.RUNNING).update(
        state=Export.State.SUCCEEDED,
        file_name=result["file_name"],
        files=result["files"],
        counts=result["counts"],
        size_bytes=final.stat().st_size,
        sha256=result["sha256"],
        rows_done=result["rows_done"],
        finished_at=timezone.now(),
    )
    if not done and Export.objects.filter(pk=export_id, state=Export.State.CANCELLED).exists():
        final.unlink(missing_ok=True)  # cancelled at the last moment: keep nothing


# --- building -------------------------------------------------------------------


class _Progress:
    """Reports progress at most every ``PROGRESS_SECONDS`` (a commit costs milliseconds)."""

    def __init__(self, export_id: int):
        self.export_id = export_id
        self.done = 0
        self.last = time.monotonic()

    def tick(self) -> None:
        self.done += 1
        if self.done % PROGRESS_EVERY == 0 and time.monotonic() - self.last >= PROGRESS_SECONDS:
            self.flush()

    def flush(self) -> None:
        # One query both reports progress and notices a cancellation.
        alive = Export.objects.filter(pk=self.export_id, state=Export.State.RUNNING).update(
            rows_done=self.done
        )
        self.last = time.monotonic()
        if not alive:
            raise ExportCancelled


class _Route:
    """The writer of one (config, split) and its row count; ``write`` None: not exported."""

    __slots__ = ("rows", "write")

    def __init__(self, write: Any):
        self.write = write
        self.rows = 0


class _Sinks:
    """Open files per (config, split), created on first row."""

    def __init__(self, work: Path, export: Export, configs: dict[str, Config]):
        self.work = work
        self.export = export
        self.configs = configs
        self.open: dict[tuple[str, str], list] = {}
        self.bundle = export.format == Export.Format.BUNDLE
        self.plain_config = export.options.get("variant")

    def paths(self, config: str, split: str) -> list[tuple[str, str]]:
        if self.bundle:
            return [
                ("parquet", f"data/{config}/{split}-00000-of-00001.parquet"),
                ("jsonl", f"jsonl/{config}/{split}.jsonl"),
            ]
        return [(self.plain_kind, self.plain_name)]

    @property
    def plain_kind(self) -> str:
        return "parquet" if self.export.format == Export.Format.PARQUET else "jsonl"

    @property
    def plain_name(self) -> str:
        suffix = {"jsonl": "jsonl", "parquet": "parquet", "openai": "openai.jsonl"}
        return f"{self.plain_config}.{suffix[self.export.format]}"

    def _sinks(self, config: str, split: str) -> list:
        key = (config, split) if self.bundle else ("", "")
        if key not in self.open:
            sinks = []
            for fmt, rel in self.paths(config, split):
                path = self.work / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                sink = (
                    ParquetSink(path, self.configs[config].schema)
                    if fmt == "parquet"
                    else JsonlSink(path)
                )
                sinks.append((fmt, rel, sink))
            self.open[key] = sinks
        return self.open[key]

    def route(self, config: str, split: str) -> _Route:
        """Where rows of (config, split) go; made once per pair, then reused for every row."""
        if not self.bundle and config != self.plain_config:
            return _Route(None)
        sinks = self._sinks(config, split)
        if self.export.format == Export.Format.OPENAI:
            sink = sinks[0][2]
            return _Route(lambda row, nested=None: sink.write(openai_row(config, row)))
        if len(sinks) == 1 and sinks[0][0] == "parquet":
            write = sinks[0][2].write
            return _Route(lambda row, nested=None: write(row))
        if len(sinks) == 1:  # JSONL: canonical records go nested, not as a JSON string
            write = sinks[0][2].write
            return _Route(lambda row, nested=None: write(row if nested is None else nested))

        def write_all(row: dict[str, Any], nested: Any = None) -> None:
            for fmt, _rel, sink in sinks:
                sink.write(nested if fmt == "jsonl" and nested is not None else row)

        return _Route(write_all)

    def abort(self) -> None:
        for sinks in self.open.values():
            for _fmt, _rel, sink in sinks:
                sink.abort()

    def close(self) -> dict[tuple[str, str], list]:
        if not self.bundle and not self.open:
            self._sinks(self.plain_config, "")  # an empty export is still a valid file
        for sinks in self.open.values():
            for _fmt, _rel, sink in sinks:
                sink.close()
        return self.open


def canonical_record(trace: Trace) -> dict[str, Any]:
    def trace_fields(t: Trace) -> dict[str, Any]:
        return {
            f.attname: getattr(t, f.attname)
            for f in Trace._meta.concrete_fields
            if f.attname not in {"project_id"}
        }

    annotations = []
    for a in trace.export_annotations:
        fields = {
            f.attname: getattr(a, f.attname)
            for f in type(a)._meta.concrete_fields
            if f.attname not in {"project_id", "trace_id"}
        }
        fields["annotator"] = a.annotator.username
        if hasattr(a, "export_reviews"):
            fields["reviews"] = [
                {
                    **{
                        f.attname: getattr(r, f.attname)
                        for f in type(r)._meta.concrete_fields
                        if f.attname not in {"project_id", "annotation_id"}
                    },
                    "reviewer": r.reviewer.username,
                }
                for r in a.export_reviews
            ]
        annotations.append(fields)
    prompt = trace.prompt
    return {
        "prompt": {
            "id": prompt.pk,
            "external_id": prompt.external_id,
            "text": prompt.text,
            "messages": prompt.messages,
            "reference_answer": prompt.reference_answer,
            "metadata": prompt.metadata,
        },
        "trace": trace_fields(trace),
        "annotations": annotations,
        "branches": [trace_fields(b) for b in trace.export_branches],
        "schema_version": SCHEMA_VERSION,
    }


def _build(export: Export, work: Path) -> dict[str, Any]:
    project = export.project
    options, filters = export.options, export.filters
    splits = list(parse_splits(options["splits"]))
    seed = options.get("seed", "")
    kinds: list[Kind] = (
        list(KINDS.values()) if export.kind == Export.Kind.ALL else [KINDS[export.kind]]
    )
    ctx = Context(options=options, splits=splits, principles=list(project.principles or []))
    configs = {c.name: c for kind in kinds for c in kind.configs(ctx)}
    sinks = _Sinks(work, export, configs)
    progress = _Progress(export.pk)
    routes: dict[tuple[str, str], _Route] = {}

    def emit(config: str, split: str, row: dict[str, Any], nested: Any = None) -> None:
        route = routes.get((config, split))
        if route is None:
            route = routes[config, split] = sinks.route(config, split)
        if route.write is not None:
            route.write(row, nested)
            route.rows += 1

    row_kinds = [k for k in kinds if k.source == "annotations"]
    wants_canonical = any(k.source == "traces" for k in kinds)
    if sinks.plain_config:
        row_kinds = [k for k in row_kinds if sinks.plain_config in VARIANTS[k.name]]
    total = 0
    if row_kinds:
        total += selectors.annotations_for(project=project, filters=filters).count()
    if wants_canonical:
        total += selectors.traces_for(project=project, filters=filters).count()
    Export.objects.filter(pk=export.pk).update(rows_total=total)

    try:
        split_for = splitter(splits, seed)
        if row_kinds:
            fields = sorted({f for k in row_kinds for f in k.fields()})
            tick = progress.tick
            # The hottest loop of an export: ``emit`` inlined, one dict look-up a row.
            with closing(
                selectors.annotation_rows(project=project, filters=filters, fields=fields)
            ) as annotations:
                for a in annotations:
                    split = split_for(a["trace__prompt__external_id"])
                    for kind in row_kinds:
                        for config, row in kind.rows(a, ctx, split):
                            route = routes.get((config, split))
                            if route is None:
                                route = routes[config, split] = sinks.route(config, split)
                            if route.write is not None:
                                route.write(row)
                                route.rows += 1
                    tick()
        if wants_canonical:
            for trace in selectors.trace_records(project=project, filters=filters):
                split = split_for(trace.prompt.external_id)
                record = canonical_record(trace)
                flat = {
                    "trace_id": trace.pk,
                    "prompt_external_id": trace.prompt.external_id,
                    "meta_split": split,
                    "record": orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode(),
                }
                emit("canonical", split, flat, nested=record)
                progress.tick()
        progress.flush()
        opened = sinks.close()
    except BaseException:
        sinks.abort()  # end writer threads and close files; the folder is removed
        raise
    counts: dict[str, dict[str, int]] = {}
    for (config, split), route in routes.items():  # first-seen order, as before
        if route.write is not None:
            counts.setdefault(config, {})[split] = route.rows

    files = []
    for (config, split), entries in sorted(opened.items()):
        for _fmt, rel, sink in entries:
            path = work / rel
            files.append(
                {
                    "path": rel,
                    "config": config or sinks.plain_config,
                    "split": split or None,
                    "rows": sink.rows,
                    "bytes": path.stat().st_size,
                    "sha256": sink.sha256 or sha256_file(path),
                }
            )
    files.sort(key=lambda f: f["path"])
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "app_version": reflectlab.__version__,
        "kind": export.kind,
        "format": export.format,
        "filters": filters,
        "options": options,
        "counts": counts,
        "files": files,
    }
    if not sinks.bundle:
        return {
            "file_name": sinks.plain_name,
            "files": files,
            "counts": counts,
            "rows_done": progress.done,
            "sha256": files[0]["sha256"],
        }

    card_configs = []
    for name, config in configs.items():
        parts = [
            (split, f"data/{name}/{split}-00000-of-00001.parquet")
            for split, _ in splits
            if counts.get(name, {}).get(split)
        ]
        if parts:
            card_configs.append({"name": name, "description": config.description, "files": parts})
    default = export.kind if export.kind != Export.Kind.ALL else None
    if default not in {c["name"] for c in card_configs}:
        default = card_configs[0]["name"] if card_configs else None
    readme = dataset_card(
        title=f"{project.name} — {export.get_kind_display()}",
        configs=card_configs,
        default=default,
        manifest=manifest,
    )
    (work / "README.md").write_text(readme, encoding="utf-8")
    files.append(
        {
            "path": "README.md",
            "config": None,
            "split": None,
            "rows": 0,
            "bytes": (work / "README.md").stat().st_size,
            "sha256": sha256_file(work / "README.md"),
        }
    )
    (work / "manifest.json").write_bytes(_dumps(manifest))
    entries = [("README.md", work / "README.md"), ("manifest.json", work / "manifest.json")]
    entries += [(f["path"], work / f["path"]) for f in files if f["path"] != "README.md"]
    name = f"{export.kind}-bundle.zip"
    write_zip(work / name, entries)
    return {
        "file_name": name,
        "files": files,
        "counts": counts,
        "rows_done": progress.done,
        "sha256": sha256_file(work / name),
    }
