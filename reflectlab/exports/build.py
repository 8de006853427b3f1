"""Writing one export's files under a work folder: rows, manifest, dataset card, bundle."""

from __future__ import annotations

import time
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

import reflectlab
from reflectlab.core.jobs import JobLease
from reflectlab.exports import selectors
from reflectlab.exports.card import dataset_card
from reflectlab.exports.chat_templates import tokenizer_dir, training_template_check
from reflectlab.exports.kinds import KINDS, VARIANTS, Kind
from reflectlab.exports.llamafactory import dataset_info
from reflectlab.exports.models import Export
from reflectlab.exports.report import (
    Lengths,
    empty_reasons,
    length_stats,
    text_columns,
    token_encoder,
)
from reflectlab.exports.schemas import SCHEMA_VERSION, Context
from reflectlab.exports.sinks import Route, Sinks
from reflectlab.exports.splits import parse_splits, splitter
from reflectlab.exports.writers import sha256_file, write_zip
from reflectlab.judges.exporting import judge_columns, with_judge_fields
from reflectlab.traces.models import Trace

PROGRESS_EVERY = 256
PROGRESS_SECONDS = 0.5


class ExportCancelled(Exception):
    pass


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)


class Progress:
    """Reports progress at most every ``PROGRESS_SECONDS`` (a commit costs milliseconds)."""

    def __init__(self, export_id: int, lease: JobLease | None = None):
        self.export_id = export_id
        self.lease = lease  # our claim: a worker that lost it stops
        self.done = 0
        self.last = time.monotonic()

    def tick(self) -> None:
        self.done += 1
        if self.done % PROGRESS_EVERY == 0 and time.monotonic() - self.last >= PROGRESS_SECONDS:
            self.flush()

    def flush(self) -> None:
        # One query both reports progress and notices a cancellation.
        mine = {"holder": self.lease.holder} if self.lease is not None else {}
        alive = Export.objects.filter(pk=self.export_id, state=Export.State.RUNNING, **mine).update(
            rows_done=self.done
        )
        self.last = time.monotonic()
        if not alive or (self.lease is not None and self.lease.lost.is_set()):
            raise ExportCancelled


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


def export_build(*, export: Export, work: Path, lease: JobLease | None = None) -> dict[str, Any]:
    """Write every file of ``export`` into ``work``; the caller moves the result into place."""
    project = export.project
    options, filters = export.options, export.filters
    splits = list(parse_splits(options["splits"]))
    seed = options.get("seed", "")
    kinds: list[Kind] = (
        list(KINDS.values()) if export.kind == Export.Kind.ALL else [KINDS[export.kind]]
    )
    ctx = Context(options=options, splits=splits, principles=list(project.principles or []))
    configs = {c.name: c for kind in kinds for c in kind.configs(ctx)}
    if ctx.judge_labels:
        configs = {
            name: replace(c, schema=with_judge_fields(c.schema))
            if "meta_trace_id" in c.schema.names
            else c
            for name, c in configs.items()
        }
    sinks = Sinks(work, export, configs)
    progress = Progress(export.pk, lease)
    routes: dict[tuple[str, str], Route] = {}
    lengths = {name: Lengths(text_columns(c)) for name, c in configs.items()}
    encode = token_encoder(
        tokenizer_dir(options["tokenizer"]) if options.get("tokenizer") else None
    )

    def open_route(config: str, split: str) -> Route:
        route = routes[config, split] = sinks.route(config, split)
        route.lengths = lengths[config]
        return route

    def emit(config: str, split: str, row: dict[str, Any], nested: Any = None) -> None:
        route = routes.get((config, split))
        if route is None:
            route = open_route(config, split)
        if route.write is not None:
            route.write(row, nested)
            route.rows += 1
            route.lengths.add(row, encode)

    row_kinds = [k for k in kinds if k.source == "annotations"]
    wants_canonical = any(k.source == "traces" for k in kinds)
    if sinks.plain_config:
        row_kinds = [k for k in row_kinds if sinks.plain_config in VARIANTS[k.name]]
    total = 0
    sources = selectors.annotations_for(project=project, filters=filters).count()
    if row_kinds:
        total += sources
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
                selectors.annotation_rows(
                    project=project,
                    filters=filters,
                    fields=fields,
                    extra=judge_columns() if ctx.judge_labels else None,
                )
            ) as annotations:
                for a in annotations:
                    if a["exit_reason"]:
                        # An honest skip (bad problem, ambiguous reference, give up)
                        # is no training data; canonical keeps it.
                        tick()
                        continue
                    split = split_for(a["trace__prompt__external_id"])
                    for kind in row_kinds:
                        for config, row in kind.rows(a, ctx, split):
                            route = routes.get((config, split))
                            if route is None:
                                route = open_route(config, split)
                            if route.write is not None:
                                route.write(row)
                                route.rows += 1
                                route.lengths.add(row, encode)
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
        if sinks.bundle:  # every config and split has its file, empty or not (see card.py)
            for name in configs:
                for split, _ in splits:
                    if (name, split) not in routes:
                        open_route(name, split)
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
    check = training_template_check(options, reasoning_key=ctx.reasoning_key)
    warnings = [check.warning] if check and check.warning else []
    if ctx.hint_mode == "user_turn" and any(k.name == "sft_corrected" for k in kinds):
        warnings.append(
            "user_turn hint mode: sft_corrected has prompt/completion rows only (the original "
            "wrong answer stays in the prompt, so the loss covers the correction alone)."
        )
    empty = empty_reasons(
        kinds=[k.name for k in kinds if k.source == "annotations"],
        configs_of={k.name: [c.name for c in k.configs(ctx)] for k in kinds},
        counts=counts,
        skips=ctx.skips,
        sources=sources,
        accepted_only=filters.get("accepted_only", True),
    )
    if sinks.plain_config:
        empty = {k: v for k, v in empty.items() if sinks.plain_config in VARIANTS[k]}
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "app_version": reflectlab.__version__,
        "kind": export.kind,
        "format": export.format,
        "filters": filters,
        "options": options,
        "counts": counts,
        "files": files,
        "lengths": length_stats(
            {n: le for n, le in lengths.items() if n in counts or n == sinks.plain_config}
        ),
        "empty": empty,
        "warnings": warnings,
        "training_template": None
        if check is None
        else {"name": check.name, "keeps_reasoning": check.keeps_reasoning, "error": check.error},
    }
    notes = warnings + list(empty.values())
    if not sinks.bundle:
        return {
            "file_name": sinks.plain_name,
            "files": files,
            "counts": counts,
            "rows_done": progress.done,
            "sha256": files[0]["sha256"],
            "notes": notes,
        }

    default = export.kind if export.kind != Export.Kind.ALL else None
    if default not in configs:
        default = next((n for n in configs if counts.get(n)), next(iter(configs), None))
    extra: list[tuple[str, Path]] = []
    if check is not None:
        keep = work / "templates" / "chat_template_keep_reasoning.jinja"
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.write_text(check.keeping_template or "", encoding="utf-8")
        extra.append(("templates/chat_template_keep_reasoning.jinja", keep))
    info = work / "llamafactory" / "dataset_info.json"
    info.parent.mkdir(parents=True, exist_ok=True)
    info.write_bytes(_dumps(dataset_info(counts)))
    extra.append(("llamafactory/dataset_info.json", info))
    readme = dataset_card(
        title=f"{project.name} — {export.get_kind_display()}",
        configs=list(configs.values()),
        splits=[name for name, _ in splits],
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
    for rel, path in extra:
        files.append(
            {
                "path": rel,
                "config": None,
                "split": None,
                "rows": 0,
                "bytes": path.stat().st_size,
                "sha256": sha256_file(path),
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
        "notes": notes,
    }
