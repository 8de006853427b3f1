"""Hint memory (ARIA, CLIN): beside the hint box, the project's accepted hints
most like the situation at hand — the same prompt first, then hints written at
steps whose text is similar.

``hint_memory_search`` is the one selector over two backends: PostgreSQL full
text (``to_tsvector``/``ts_rank``, GIN-indexed) and SQLite FTS5 (``bm25``).
Both match any of the query's words (OR), so a long step still finds hints
that share its key terms. ``hint_memory_refresh`` (a write) indexes accepted
annotations that are not indexed yet and drops entries whose annotation is no
longer accepted or whose hint changed — one cheap query when nothing changed.
It runs when a reviewer accepts an annotation with a hint and when a judge run
starts; pages and the API only read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F

from reflectlab.annotations.models import Annotation
from reflectlab.judges.models import HintEntry
from reflectlab.projects.models import Project
from reflectlab.traces.models import step_text_of

MAX_TERMS = 32
STEP_CHARS = 2000  # of the step text kept per entry
_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "that",
        "this",
        "with",
        "from",
        "are",
        "was",
        "were",
        "but",
        "not",
        "you",
        "your",
        "have",
        "has",
        "had",
        "then",
        "than",
        "into",
        "its",
        "also",
        "can",
        "will",
        "would",
        "should",
        "could",
        "which",
        "what",
        "when",
        "where",
        "there",
        "their",
        "them",
        "they",
        "let",
        "lets",
        "need",
        "now",
        "one",
        "two",
        "our",
        "out",
        "all",
        "any",
        "each",
        "some",
        "such",
    ]
)


def query_terms(text: str) -> list[str]:
    """Distinct lower-case words (3+ letters or digits, no stop words), at most MAX_TERMS."""
    seen: dict[str, None] = {}
    for word in _WORD.findall((text or "").lower()):
        if word not in _STOP and not word.isdigit():
            seen.setdefault(word, None)
        if len(seen) >= MAX_TERMS:
            break
    return list(seen)


@dataclass(frozen=True)
class Memory:
    entry: HintEntry
    same_prompt: bool
    score: float


def _ranked_ids(project_id: int, terms: list[str], limit: int) -> list[tuple[int, float]]:
    if not terms:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Terms are [^\W_]+ words, so joining them with | is a valid tsquery.
            cursor.execute(
                "SELECT e.id, ts_rank(to_tsvector('english', e.hint || ' ' || e.step_text), q) "
                "FROM judges_hintentry e, to_tsquery('english', %s) q "
                "WHERE e.project_id = %s AND "
                "to_tsvector('english', e.hint || ' ' || e.step_text) @@ q "
                "ORDER BY 2 DESC, e.id DESC LIMIT %s",
                [" | ".join(terms), project_id, limit],
            )
            return [(pk, float(rank)) for pk, rank in cursor.fetchall()]
        if connection.vendor == "sqlite":
            match = " OR ".join(f'"{t}"' for t in terms)  # quoted: never FTS5 syntax
            cursor.execute(
                "SELECT e.id, -bm25(judges_hintentry_fts) FROM judges_hintentry_fts "
                "JOIN judges_hintentry e ON e.id = judges_hintentry_fts.rowid "
                "WHERE judges_hintentry_fts MATCH %s AND e.project_id = %s "
                "ORDER BY 2 DESC, e.id DESC LIMIT %s",
                [match, project_id, limit],
            )
            return [(pk, float(rank)) for pk, rank in cursor.fetchall()]
    return []


def hint_memory_search(
    *,
    project: Project,
    text: str,
    prompt_id: int | None = None,
    exclude_trace_id: int | None = None,
    limit: int = 5,
) -> list[Memory]:
    """The accepted hints most like ``text`` (a step), those of ``prompt_id`` first."""
    ranked = dict(_ranked_ids(project.pk, query_terms(text), limit * 4))
    entries = HintEntry.objects.filter(project=project)
    if exclude_trace_id is not None:
        entries = entries.exclude(trace_id=exclude_trace_id)
    same = []
    if prompt_id is not None:
        same = list(entries.filter(prompt_id=prompt_id).order_by("-id")[: limit * 4])
    others = [e for e in entries.filter(pk__in=list(ranked)) if e.prompt_id != prompt_id]
    same.sort(key=lambda e: (-ranked.get(e.pk, 0.0), -e.pk))
    others.sort(key=lambda e: (-ranked[e.pk], -e.pk))
    out = [Memory(e, True, ranked.get(e.pk, 0.0)) for e in same]
    out += [Memory(e, False, ranked[e.pk]) for e in others]
    return out[:limit]


def hint_memory_refresh(*, project: Project) -> int:
    """Bring the project's hint index in line with its accepted hints; entries added."""
    with transaction.atomic():
        HintEntry.objects.filter(project=project).exclude(
            annotation__state=Annotation.State.ACCEPTED
        ).delete()
        HintEntry.objects.filter(project=project).exclude(annotation__hint=F("hint")).delete()
        fresh = (
            Annotation.objects.filter(project=project, state=Annotation.State.ACCEPTED)
            .exclude(hint="")
            .exclude(pk__in=HintEntry.objects.filter(project=project).values("annotation_id"))
            .values(
                "pk",
                "trace_id",
                "trace__prompt_id",
                "hint",
                "hint_step",
                "first_error_step",
                "trace__raw_response",
                "trace__reasoning",
                "trace__analysis",
            )
        )
        entries = []
        for row in fresh.iterator(chunk_size=200):
            step = row["hint_step"] if row["hint_step"] is not None else row["first_error_step"]
            steps = (row["trace__analysis"] or {}).get("steps") or []
            step_text = ""
            if step is not None and 0 <= step < len(steps):
                source = step_text_of(
                    row["trace__raw_response"], row["trace__reasoning"], row["trace__analysis"]
                )
                step_text = source[steps[step]["start"] : steps[step]["end"]][:STEP_CHARS]
            entries.append(
                HintEntry(
                    project=project,
                    annotation_id=row["pk"],
                    prompt_id=row["trace__prompt_id"],
                    trace_id=row["trace_id"],
                    hint=row["hint"],
                    step_text=step_text,
                )
            )
        HintEntry.objects.bulk_create(entries, batch_size=500, ignore_conflicts=True)
    return len(entries)


def step_text_at(trace, step: int | None) -> str:
    """The text of one step of a trace ('' when there is no such step)."""
    steps = (trace.analysis or {}).get("steps") or []
    if step is None or not 0 <= step < len(steps):
        return ""
    return trace.step_text[steps[step]["start"] : steps[step]["end"]]
