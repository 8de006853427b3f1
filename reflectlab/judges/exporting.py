"""Judge labels in exports: separate ``meta_judge_*`` columns, never mixed with
the human ones (``first_error_step``, ``labels``, … stay the annotator's).

An export with the ``judge_labels`` option asks the database for the newest
judge suggestion of each exported trace (one correlated subquery per column,
so rows still stream) and adds these columns to every annotation-based table.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
from django.db.models import OuterRef, Subquery

from reflectlab.judges.models import Suggestion

META_JUDGE_FIELDS = [
    pa.field("meta_judge_name", pa.string()),
    pa.field("meta_judge_prompt_version", pa.int64()),
    pa.field("meta_judge_parse_state", pa.string()),
    pa.field("meta_judge_first_error_step", pa.int64()),
    pa.field("meta_judge_confidence", pa.float64()),
    pa.field("meta_judge_verdict", pa.string()),
    pa.field("meta_judge_step_labels", pa.string()),  # JSON {step: label}
]
_COLUMNS = {
    "judge_x_name": "judge__name",
    "judge_x_prompt_version": "prompt_version",
    "judge_x_parse_state": "parse_state",
    "judge_x_first_error_step": "first_error_step",
    "judge_x_confidence": "confidence",
    "judge_x_verdict": "verdict",
    "judge_x_step_labels": "step_labels",
}


def judge_columns() -> dict[str, Subquery]:
    """Annotations for an ``Annotation`` queryset: the trace's newest judge suggestion."""
    newest = Suggestion.objects.filter(
        trace_id=OuterRef("trace_id"), source=Suggestion.Source.JUDGE
    ).order_by("-id")
    return {name: Subquery(newest.values(field)[:1]) for name, field in _COLUMNS.items()}


def meta_judge(a: dict[str, Any]) -> dict[str, Any]:
    labels = a.get("judge_x_step_labels")
    if isinstance(labels, str):  # SQLite and the PostgreSQL stream give the JSON as text
        labels = orjson.loads(labels)
    if labels:
        labels = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()
    return {
        "meta_judge_name": a.get("judge_x_name"),
        "meta_judge_prompt_version": a.get("judge_x_prompt_version"),
        "meta_judge_parse_state": a.get("judge_x_parse_state"),
        "meta_judge_first_error_step": a.get("judge_x_first_error_step"),
        "meta_judge_confidence": a.get("judge_x_confidence"),
        "meta_judge_verdict": a.get("judge_x_verdict") or None,
        "meta_judge_step_labels": labels or None,
    }


def with_judge_fields(schema: pa.Schema) -> pa.Schema:
    return pa.schema([*schema, *META_JUDGE_FIELDS])
