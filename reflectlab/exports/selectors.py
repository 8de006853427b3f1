"""What an export reads: annotations (or traces) of a project, filtered, in a fixed order."""

from __future__ import annotations

import copy
import datetime as dt
import queue
import threading
from collections.abc import Iterator
from typing import Any

import orjson
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, connections
from django.db.models import Prefetch, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from reflectlab.annotations.models import Annotation
from reflectlab.core.fields import NulSafeTextField, unescape
from reflectlab.exports.models import Export
from reflectlab.projects.models import Project
from reflectlab.review.models import GoldItem, Review
from reflectlab.traces.models import Trace
from reflectlab.traces.selection import filtered

CHUNK_SIZE = 5000


def export_list(*, project: Project) -> QuerySet[Export]:
    return Export.objects.filter(project=project).select_related("created_by")


def annotations_for(*, project: Project, filters: dict[str, Any]) -> QuerySet[Annotation]:
    states = [Annotation.State.ACCEPTED]
    if not filters.get("accepted_only", True):
        states.append(Annotation.State.SUBMITTED)
    qs = Annotation.objects.filter(project=project, state__in=states, trace__parent__isnull=True)
    if filters.get("model"):
        qs = qs.filter(trace__model_name=filters["model"])
    if filters.get("run"):
        qs = qs.filter(trace__run_id=filters["run"])
    if filters.get("annotator"):
        qs = qs.filter(annotator__username=filters["annotator"])
    if filters.get("date_from"):
        qs = qs.filter(created_at__date__gte=dt.date.fromisoformat(filters["date_from"]))
    if filters.get("date_to"):
        qs = qs.filter(created_at__date__lte=dt.date.fromisoformat(filters["date_to"]))
    if filters.get("exclude_gold", True):
        gold = GoldItem.objects.filter(project=project).values("trace_id")
        qs = qs.exclude(trace_id__in=gold)
    if "trace_ids" in filters:
        qs = qs.filter(trace_id__in=filters["trace_ids"])
    if "traces" in filters:  # a trace-list filter: a subquery, never a list of ids
        chosen = filtered(Trace.objects.filter(project=project), filters["traces"])
        qs = qs.filter(trace_id__in=chosen.order_by().values("pk"))
    return qs.order_by("id")


JSON_FIELDS = {
    "step_labels",
    "violated_principles",
    "trace__prompt__messages",
    "step_reasons",
    "replacement_alternatives",
    "reflection_quality",
    "trace__step_edit__splits",
    "trace__step_edit__merges",
}
FETCH_ROWS = 500
READ_AHEAD = 4


def annotation_rows(
    *,
    project: Project,
    filters: dict[str, Any],
    fields: list[str],
    extra: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Plain dicts keyed by ``fields``, streamed (no model instances, flat memory).

    The query is ``annotations_for`` with the fields as ``values_list``
    columns, so filters live in one place whichever path reads it:

    - On PostgreSQL outside a transaction (a worker, the benchmark), the SQL
      Django compiled runs on a *second* connection, read ahead by a thread
      (``_pg_stream``): PostgreSQL produces the next rows while this thread
      writes the last ones. Django's own server-side cursors are declared
      WITH HOLD in autocommit, which makes PostgreSQL materialise the whole
      result before the first row, and they build a dict per row.
    - Elsewhere (SQLite; PostgreSQL inside a transaction, whose uncommitted
      rows a second connection could not see) Django's ``iterator()`` reads
      the same columns, with its converters (SQLite booleans are integers).

    JSON columns come back as text and are decoded with orjson: Django's
    stdlib ``json.loads`` converter was a fifth of the export's time. A key
    of the analysis JSON (``trace__analysis__steps``) is extracted by the
    database (``->>``), so the whole analysis is never sent, and is left as
    text: ``kinds.parent_steps`` decodes it for the rows that need it.
    """
    plain = [f for f in fields if f not in JSON_FIELDS and "__analysis__" not in f]
    as_text = {}
    for i, f in enumerate(f for f in fields if f not in plain):
        if "__analysis__" in f:
            source, key = f.rsplit("__", 1)
            expr = KeyTextTransform(key, source)
        else:
            expr = Cast(f, TextField())
        as_text[f"json_{i}"] = (f, expr)
    extra = extra or {}  # computed columns (e.g. reflectlab.judges.exporting), by name
    qs = (
        annotations_for(project=project, filters=filters)
        .annotate(**{alias: expr for alias, (_, expr) in as_text.items()}, **extra)
        .values_list(*plain, *as_text, *extra)
    )
    keys = [*plain, *(name for name, _ in as_text.values()), *extra]
    decode = [name for name, _ in as_text.values() if name in JSON_FIELDS]
    raw = connection.vendor == "postgresql" and not connection.in_atomic_block
    if raw:
        rows = _pg_stream(qs, expected=[*plain, *as_text, *extra])
        # Raw tuples skip Django's converters: NUL-safe text comes back escaped.
        escaped = [f for f in plain if _nul_safe(Annotation, f)]
    else:
        rows = qs.iterator(chunk_size=CHUNK_SIZE)
        escaped = []
    loads = orjson.loads
    for row in rows:
        a = dict(zip(keys, row, strict=True))
        for name in escaped:
            if (value := a[name]) is not None:
                a[name] = unescape(value)
        for name in decode:
            value = a[name]
            if value is not None:
                a[name] = loads(value)
        yield a


def _nul_safe(model: type, path: str) -> bool:
    """Whether the column at ``path`` (``trace__raw_response``) is a NulSafeTextField.

    A path into a JSON value (``trace__prompt__metadata__subset``) or an
    annotated column is not a model field: never escaped.
    """
    for part in path.split("__"):
        if model is None:
            return False
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        model = field.related_model
    return isinstance(field, NulSafeTextField)


def _pg_stream(qs: QuerySet, *, expected: list[str]) -> Iterator[tuple]:
    """The rows of ``qs`` as tuples, read ahead by a thread on a connection of its own.

    The reader FETCHes ``FETCH_ROWS`` at a time from a named cursor (psycopg
    builds each chunk's tuples in C; ``cursor.stream()`` measured slower, as
    it yields row by row in Python) and waits on the socket with the GIL
    released, so PostgreSQL produces the next chunk while this thread turns
    the last one into output. A queue of ``READ_AHEAD`` chunks keeps memory
    flat. Stopping early (a cancelled export, an error) tells the reader to
    quit after its current FETCH; it closes the cursor and its connection.
    """
    query = qs.query
    columns = [*query.extra_select, *query.values_select, *query.annotation_select]
    if columns != expected:  # values_list would reorder; raw tuples cannot
        raise RuntimeError(f"Unexpected column order {columns} != {expected}")
    sql, params = query.sql_with_params()
    chunks: queue.Queue = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    import psycopg  # only on PostgreSQL

    alias = connection.alias

    def read(wrapper: type, settings_dict: dict[str, Any]) -> None:
        # Like ``connection.copy()``, but made (and closed) in this thread, as
        # Django's thread-sharing checks want; same settings and adapters
        # (jsonb arrives as text).
        reader = wrapper(settings_dict, alias)
        try:
            reader.ensure_connection()
            conn = reader.connection
            literal = psycopg.ClientCursor(conn).mogrify(sql, params)
            with conn.transaction(), conn.cursor(name="export_rows") as cursor:
                cursor.execute(literal)
                while rows := cursor.fetchmany(FETCH_ROWS):
                    if not put(rows):
                        return
            put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
        finally:
            reader.close()

    thread = threading.Thread(
        target=read,
        args=(type(connections[alias]), copy.deepcopy(connection.settings_dict)),
        daemon=True,
    )
    thread.start()
    try:
        while (chunk := chunks.get()) is not None:
            if isinstance(chunk, BaseException):
                raise chunk
            yield from chunk
    finally:
        stop.set()
        thread.join()


def traces_for(*, project: Project, filters: dict[str, Any]) -> QuerySet[Trace]:
    annotated = annotations_for(project=project, filters=filters)
    return Trace.objects.filter(
        project=project, parent__isnull=True, pk__in=annotated.values("trace_id")
    ).order_by("id")


def trace_records(*, project: Project, filters: dict[str, Any]) -> Iterator[Trace]:
    annotated = annotations_for(project=project, filters=filters).select_related("annotator")
    annotated = annotated.prefetch_related(
        Prefetch(
            "reviews",
            queryset=Review.objects.order_by("id").select_related("reviewer"),
            to_attr="export_reviews",
        )
    )
    return (
        traces_for(project=project, filters=filters)
        .select_related("prompt")
        .prefetch_related(
            Prefetch("annotations", queryset=annotated, to_attr="export_annotations"),
            Prefetch("branches", queryset=Trace.objects.order_by("id"), to_attr="export_branches"),
        )
        .iterator(chunk_size=200)
    )
