"""Import ProcessBench (arXiv 2412.06559) items as traces with their human labels.

Each item ``{id, generator, problem, steps, final_answer_correct, label}``
becomes a trace whose response is the steps joined by a blank line — the
analyser's step unit — and an accepted annotation by a dedicated
``processbench`` user: ``first_error_step = label``, steps before it +1 and
the labelled step -1 (PRM800K meanings). The ``stepwise`` export's
ProcessBench-shaped file then gives the items back.

It lives with the other imports (``prompts``: files in, prompts and traces
out, ``manage.py import_processbench``); the ProcessBench-shaped *export* is
the ``processbench`` variant of ``exports.kinds.Stepwise``.

The analyser never splits inside ``$$…$$``, ``\\[…\\]`` or code fences; where
such a block spans a step boundary of the source (2 of the 3,400 public
items), the analyser's steps cannot match the given ones. Those items are
imported with the label moved to the analyser step holding the labelled
step's start, and reported as ``remapped``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from reflectlab.annotations.models import Annotation
from reflectlab.projects.models import Membership, Project, Role
from reflectlab.prompts.parsing import clean_trace
from reflectlab.prompts.services import mapping_for
from reflectlab.traces.models import Trace
from reflectlab.traces.services import traces_write

ANNOTATOR = "processbench"
JOINER = "\n\n"
BATCH = 500


def processbench_user(project: Project):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=ANNOTATOR)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(project=project, user=user, defaults={"role": Role.ANNOTATOR})
    return user


def step_offsets(steps: list[str]) -> list[int]:
    offsets, pos = [], 0
    for step in steps:
        offsets.append(pos)
        pos += len(step) + len(JOINER)
    return offsets


def aligned(response: str, item_steps: list[str], analysed: list[dict]) -> bool:
    return len(analysed) == len(item_steps) and all(
        response[s["start"] : s["end"]].strip() == given.strip()
        for s, given in zip(analysed, item_steps, strict=True)
    )


def map_label(label: int, item_steps: list[str], analysed: list[dict]) -> int:
    """The analyser step holding the start of the labelled source step."""
    if label < 0 or not analysed:
        return label
    start = step_offsets(item_steps)[label] + (
        len(item_steps[label]) - len(item_steps[label].lstrip())
    )
    for s in analysed:
        if s["start"] <= start < s["end"] or start < s["start"]:
            return s["index"]
    return analysed[-1]["index"]


def _annotation(project: Project, user, trace: dict, label: int, now) -> Annotation:
    n = len(trace["steps"])
    if label < 0:
        labels = {str(i): 1 for i in range(n)}
    else:
        labels = {str(i): 1 for i in range(label)} | {str(label): -1}
    return Annotation(
        project=project,
        trace_id=trace["pk"],
        annotator=user,
        step_labels=labels,
        first_error_step=label,
        state=Annotation.State.ACCEPTED,
        submitted_at=now,
    )


def processbench_import(*, project: Project, paths: Iterable[Path]) -> dict[str, Any]:
    """Import ProcessBench files; idempotent (known ids are skipped)."""
    user = processbench_user(project)
    mapping = mapping_for("traces", None)
    report: dict[str, Any] = {"files": {}, "remapped": []}
    for path in paths:
        items = orjson.loads(Path(path).read_bytes())
        written = annotated = 0
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            with transaction.atomic():
                w, a, remapped = _import_batch(project, user, mapping, batch, Path(path).stem)
            written += w
            annotated += a
            report["remapped"] += remapped
        report["files"][Path(path).name] = {
            "items": len(items),
            "traces_written": written,
            "annotations_written": annotated,
        }
    return report


def _import_batch(project, user, mapping, items, subset) -> tuple[int, int, list[str]]:
    records = []
    for item in items:
        record = clean_trace(
            {
                "id": item["id"],
                "problem": item["problem"],
                "generator": item["generator"],
                "response": JOINER.join(item["steps"]),
                "metadata": {"source": "processbench", "subset": subset},
            },
            mapping,
        )
        records.append(record)
    written, _ = traces_write(project=project, records=records)
    by_id = {item["id"]: item for item in items}
    # ProcessBench has no reference answer; its own final-answer judgement is kept.
    for value in (True, False):
        Trace.objects.filter(
            project=project,
            external_id__in=[
                i for i, item in by_id.items() if item["final_answer_correct"] is value
            ],
        ).update(final_correct=value, known_final_correct=value)
        Trace.objects.filter(
            project=project,
            outcome=Trace.Outcome.UNGRADED,
            external_id__in=[
                i for i, item in by_id.items() if item["final_answer_correct"] is value
            ],
        ).update(outcome=Trace.Outcome.CORRECT if value else Trace.Outcome.WRONG)
    traces = {
        t["external_id"]: {"pk": t["pk"], "steps": t["analysis__steps"] or []}
        for t in Trace.objects.filter(project=project, external_id__in=list(by_id)).values(
            "pk", "external_id", "analysis__steps"
        )
    }
    done = set(
        Annotation.objects.filter(
            annotator=user, trace_id__in=[t["pk"] for t in traces.values()]
        ).values_list("trace_id", flat=True)
    )
    now = timezone.now()
    annotations, remapped = [], []
    for ext_id, trace in traces.items():
        item = by_id[ext_id]
        response = JOINER.join(item["steps"])
        label = item["label"]
        if not aligned(response, item["steps"], trace["steps"]):
            label = map_label(label, item["steps"], trace["steps"])
            remapped.append(ext_id)
        if trace["pk"] not in done:
            annotations.append(_annotation(project, user, trace, label, now))
    Annotation.objects.bulk_create(annotations, ignore_conflicts=True, batch_size=BATCH)
    return written, len(annotations), remapped
