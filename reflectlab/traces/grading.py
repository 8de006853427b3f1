"""Grades shared by every worker process: ``analysis.grade.shared_grades`` backed by a table.

Grading (math-verify in a child process) is what a fresh worker pays for
first; a grade computed by one worker is the same for all of them. A chunk of
traces reads the known grades of its references in one query before it is
analysed and adds the new ones in one statement after (ON CONFLICT DO
NOTHING). The insert runs after the caller's transaction commits, in its own
short transaction with its rows in key order: concurrent chunks and imports
never wait on each other's open transactions for it, and never deadlock.
A rolled-back import loses only its cache rows, which is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager

from django.db import transaction

from reflectlab.analysis import grade
from reflectlab.traces.models import GradeCacheEntry

logger = logging.getLogger(__name__)

FETCH_BATCH = 1000
STORE_BATCH = 1000


class DatabaseGrades:
    """``analysis.grade.SharedGradeStore`` on the ``GradeCacheEntry`` table."""

    def fetch(self, version: str, scope_keys: list[str]) -> Iterator[tuple[str, str, bool | None]]:
        for start in range(0, len(scope_keys), FETCH_BATCH):
            yield from GradeCacheEntry.objects.filter(
                version=version, scope_key__in=scope_keys[start : start + FETCH_BATCH]
            ).values_list("reference_key", "answer_key", "correct")

    def store(self, version: str, rows: list[tuple[str, str, str, bool | None]]) -> None:
        entries = [
            GradeCacheEntry(version=version, scope_key=s, reference_key=r, answer_key=a, correct=c)
            for s, r, a, c in rows
        ]
        transaction.on_commit(lambda: _insert(entries), robust=True)


def _insert(entries: list[GradeCacheEntry]) -> None:
    try:
        GradeCacheEntry.objects.bulk_create(entries, batch_size=STORE_BATCH, ignore_conflicts=True)
    except Exception:  # a cache: never fail the work that filled it
        logger.exception("could not store %d shared grades", len(entries))


def shared_grading(references: Iterable[str | None]) -> AbstractContextManager[grade.SharedGrades]:
    """Grade a chunk against ``references`` through the shared table."""
    return grade.shared_grades(DatabaseGrades(), references)


def grade_cache_prune() -> int:
    """Delete the grades of other grader versions (never read again); returns how many."""
    deleted, _ = GradeCacheEntry.objects.exclude(version=grade.grader_version()).delete()
    return deleted
