# ruff: noqa: S608 -- SQL built from model table names and integers only
"""Scale benchmark (issue 16): dashboards and trace lists on a project of N traces.

    .venv/bin/python bench/bench_scale.py [--traces 1000000] [--only dashboards,lists]

COPYs N synthetic traces (``bench/_scale.py``) into a throwaway PostgreSQL
database ``reflectlab_bench_scale`` next to BENCH_DATABASE_URL, then times,
through the Django test client (server time, nothing cached by the app):

- dashboards: the reflection page and the stats API, cold (the app's row cache
  cleared before every request); baseline in the same run: the two queries the
  charts ran before (unnesting ``analysis`` JSON) and a bare ``COUNT(*)`` of the
  project's traces (the least any chart over all rows can cost). Target ≤ 1 s.
- lists: API list pages (first, deep via the cursor, filtered) and the web list
  page (first, page 1000 filtered); baseline: the OFFSET query for page 1000
  with a filter that the API ran before. Target: any page ≤ 100 ms.
- projects: the project page (its counts) and the project list (web, API);
  before, in the same run: the old selectors (COUNTs over the traces) and a
  bare ``COUNT(*)`` of the project's traces. Target ≤ 100 ms.

``BENCH_KEEP_DB=1`` keeps the database, and a later run with the same
``--traces`` reuses its project (populating 1M traces takes ~7 minutes).
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from unittest import mock  # noqa: E402

from _django import drop_database, setup_django  # noqa: E402


def _db_name() -> str:
    """``<BENCH_DATABASE_URL's database>_scale`` (``reflectlab_bench_scale`` by default),
    so engineers sharing one server do not drop each other's bench database."""
    base = os.environ.get("BENCH_DATABASE_URL", "")
    name = base.rpartition("/")[2].split("?")[0] if base else ""
    return (
        f"{name}_scale"
        if name and name not in ("postgres", "reflectlab_bench")
        else "reflectlab_bench_scale"
    )


DB = _db_name()
REPEAT = int(os.environ.get("BENCH_RUNS", "5"))


def database() -> str:
    """The bench database's URL: kept from an earlier run with BENCH_KEEP_DB, else fresh."""
    import psycopg

    base = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    server = base.rpartition("/")[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone()
        if not (exists and os.environ.get("BENCH_KEEP_DB")):
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB}"')
    return f"{server}/{DB}"


def timed(fn, repeat: int = REPEAT) -> tuple[float, float]:
    """(p50, max) seconds of ``repeat`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def report(label: str, result: tuple[float, float], target: float | None = None) -> None:
    p50, worst = result
    verdict = ""
    if target is not None:
        verdict = f"  target ≤ {target * 1000:.0f} ms: {'OK' if p50 <= target else 'MISSED'}"
    print(f"  {label:<52} p50 {ms(p50)}  max {ms(worst)}{verdict}")


def sql_seconds(sql: str, params: list) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.fetchall()
    return time.perf_counter() - started


def bench_dashboards(client, project, n: int) -> None:
    from django.core.cache import cache
    from django.urls import reverse

    from reflectlab.dashboards import effort, rollups
    from reflectlab.dashboards.filters import Filters
    from reflectlab.traces.models import Trace

    table = Trace._meta.db_table
    page = reverse("dashboards:reflection", args=[project.pk])
    api = f"/api/v1/projects/{project.pk}/stats"

    def get(url):
        cache.clear()  # cold: nothing from the app's row cache
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    print(f"dashboards, {n:,} traces:")
    report("reflection page, cold", timed(lambda: get(page)), 1.0)
    report("stats API (every chart), cold", timed(lambda: get(api)), 1.0)
    report("stats API, model filter, cold", timed(lambda: get(f"{api}?model=Qwen/QwQ-32B")), 1.0)
    report(
        "stats API, one week (date filter), cold",
        timed(lambda: get(f"{api}?date_from=2026-10-05&date_to=2026-10-12")),
        1.0,
    )
    _bench_deltas(get, api, project)
    # Before, in the same run: the same requests with the rollups switched off
    # (the two scans of ``trace_charts``), and the hint charts' old parent join.
    with mock.patch.object(rollups, "answers", return_value=False):
        report("before: reflection page, cold (2 index scans)", timed(lambda: get(page)))
        report("before: stats API, cold (hint charts now joinless)", timed(lambda: get(api)))
    old_hints = f"""
        SELECT b.model_name, COUNT(b.id),
               COUNT(b.id) FILTER (WHERE b.final_correct),
               COUNT(b.id) FILTER (WHERE p.final_correct = false),
               COUNT(b.id) FILTER (WHERE p.final_correct = false AND b.final_correct),
               COUNT(b.id) FILTER (WHERE p.final_correct AND b.final_correct = false)
        FROM {table} b JOIN {table} p ON p.id = b.parent_id
        WHERE b.project_id = %s AND b.parent_id IS NOT NULL AND b.state = 'ready'
        GROUP BY 1 ORDER BY 1"""
    old_size = f"""
        SELECT LEAST(FLOOR(LENGTH(b.hint)::float / NULLIF(p.thinking_chars, 0) / 0.005)::int, 11),
               COUNT(b.id)
        FROM {table} b JOIN {table} p ON p.id = b.parent_id
        WHERE b.project_id = %s AND b.parent_id IS NOT NULL AND b.state = 'ready' AND b.hint <> ''
        GROUP BY 1"""
    report(
        "before: hint success with the parent join",
        timed(lambda: sql_seconds(old_hints, [project.pk])),
    )
    report(
        "before: hint size with the parent join", timed(lambda: sql_seconds(old_size, [project.pk]))
    )
    new_hints = lambda: effort.hint_success(project=project, filters=Filters())  # noqa: E731
    new_size = lambda: effort.hint_size(project=project, filters=Filters())  # noqa: E731
    report("after: hint success, parent grading on the branch", timed(new_hints))
    report("after: hint size, parent thinking on the branch", timed(new_size))
    count = timed(
        lambda: sql_seconds(f"SELECT COUNT(*) FROM {table} WHERE project_id = %s", [project.pk])
    )
    report("baseline: SELECT COUNT(*) of the project's traces", count)
    if n > int(os.environ.get("BENCH_JSON_MAX", "300000")):
        print(
            f"  (the JSON baseline is skipped above BENCH_JSON_MAX={os.environ.get('BENCH_JSON_MAX', '300000')} traces)"
        )
        return
    unnest = f"""
        SELECT t.model_name, r.value ->> 'kind', r.value ->> 'transition', COUNT(*)
        FROM {table} t CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(t.analysis -> 'reflections') = 'array'
                 THEN t.analysis -> 'reflections' ELSE '[]'::jsonb END) AS r(value)
        WHERE t.project_id = %s AND t.parent_id IS NULL AND t.state = 'ready'
        GROUP BY 1, 2, 3"""
    position = f"""
        SELECT model_name, LEAST(FLOOR((analysis -> 'metrics' ->> 'first_candidate_position')::float
               * 10)::int, 9) AS bin, COUNT(*)
        FROM {table} WHERE project_id = %s AND parent_id IS NULL AND state = 'ready'
          AND analysis -> 'metrics' ->> 'first_candidate_position' IS NOT NULL
        GROUP BY 1, 2"""
    json_one = timed(lambda: sql_seconds(unnest, [project.pk]), 1)
    json_two = timed(lambda: sql_seconds(position, [project.pk]), 1)
    report("baseline: the old JSON unnest (reflection kinds)", json_one)
    report("baseline: the old JSON position histogram", json_two)


def _bench_deltas(get, api, project) -> None:
    """The first cold request after 1,000 new traces: it folds their deltas first."""
    from django.db import transaction

    from reflectlab.traces.models import Trace

    source = list(Trace.objects.filter(project=project, parent__isnull=True)[:1000])
    times, added = [], []
    for _ in range(3):
        with transaction.atomic():
            added += Trace.objects.bulk_create(
                [
                    Trace(
                        **{
                            f.attname: getattr(t, f.attname)
                            for f in Trace._meta.concrete_fields
                            if f.attname not in ("id", "external_id")
                        }
                    )
                    for t in source
                ],
                batch_size=500,
            )
        started = time.perf_counter()
        get(api)
        times.append(time.perf_counter() - started)
    report(
        "stats API, cold, right after 1,000 new traces", (statistics.median(times), max(times)), 1.0
    )
    Trace.objects.filter(pk__in=[t.pk for t in added]).delete()
    started = time.perf_counter()
    get(api)
    report("stats API, cold, right after deleting them", (time.perf_counter() - started,) * 2, 1.0)


def bench_lists(client, project, n: int) -> None:
    from django.urls import reverse

    from reflectlab.traces.models import Trace

    table = Trace._meta.db_table
    api = f"/api/v1/projects/{project.pk}/traces/"
    ui = reverse("traces:list", args=[project.pk])

    def get(url):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response

    def deep(query: str, hops: int):
        """Follow ``next`` ``hops`` times (cursor pages), timing the last page."""
        url = f"{api}?{query}"
        for _ in range(hops):
            url = get(url).json()["next"]
        return url

    print(f"lists, {n:,} traces:")
    report("API first page", timed(lambda: get(api)), 0.1)
    report(
        "API first page, final_correct=false&has_reflection=true",
        timed(lambda: get(f"{api}?final_correct=false&has_reflection=true")),
        0.1,
    )
    # A cursor from deep in the list: the row id at 90 % (what page ~n/50 holds).
    last = (
        Trace.objects.filter(project=project).order_by("-id").values_list("id", flat=True)[n // 10]
    )
    cursor_url = deep("page_size=50", 1)
    far = _cursor_url(api, last, "final_correct=false")
    report("API page at 90 % of the list, final_correct=false", timed(lambda: get(far)), 0.1)
    report("API next page (cursor)", timed(lambda: get(cursor_url)), 0.1)
    report(
        "API first page, model filter",
        timed(lambda: get(f"{api}?model=openai/gpt-oss-20b")),
        0.1,
    )
    report("web list, first page", timed(lambda: get(ui)), 0.1)
    report(
        "web list, page 1000, final_correct=false",
        timed(lambda: get(f"{ui}?final_correct=false&page=1000")),
        0.1,
    )
    offset = f"""SELECT id FROM {table} WHERE project_id = %s AND final_correct = false
                 ORDER BY id LIMIT 50 OFFSET 49950"""
    count = f"SELECT COUNT(*) FROM {table} WHERE project_id = %s AND final_correct = false"
    models = f"SELECT DISTINCT model_name FROM {table} WHERE project_id = %s ORDER BY 1"
    report(
        "baseline: OFFSET page 1000, final_correct=false",
        timed(lambda: sql_seconds(offset, [project.pk])),
    )
    report(
        "baseline: its COUNT(*) (page-number pagination)",
        timed(lambda: sql_seconds(count, [project.pk])),
    )
    report(
        "baseline: DISTINCT model names (uncached)",
        timed(lambda: sql_seconds(models, [project.pk])),
    )


def _old_project_stats(*, project) -> dict:
    """``projects.selectors.project_stats`` before the project rollup: five COUNTs."""
    from django.db.models import Count, Q

    traces = project.traces.aggregate(
        total=Count("id"),
        reflective=Count("id", filter=Q(has_reflection=True)),
        correct=Count("id", filter=Q(final_correct=True)),
        wrong=Count("id", filter=Q(final_correct=False)),
        truncated=Count("id", filter=Q(truncated=True)),
    )
    return {"prompts": project.prompts.count(), "traces": traces}


def _old_projects_for_user(*, user):
    """``projects_for_user`` before: a COUNT subquery of prompts and one of traces."""
    from reflectlab.projects import selectors
    from reflectlab.projects.models import Project

    return (
        Project.objects.filter(memberships__user_id=user.pk)
        .annotate(n_prompts=selectors._counted("prompts"), n_traces=selectors._counted("traces"))
        .order_by("name", "id")
    )


def bench_projects(client, project, n: int) -> None:
    """The project page (counts of prompts and traces) and the project list, web and API."""
    from django.db import transaction
    from django.urls import reverse

    from reflectlab.projects import selectors
    from reflectlab.traces.models import Trace

    table = Trace._meta.db_table
    detail = reverse("projects:detail", args=[project.pk])
    listing = reverse("projects:list")
    api = "/api/v1/projects/"

    def get(url):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    print(f"project page and list, {n:,} traces:")
    report("project page (counts)", timed(lambda: get(detail)), 0.1)
    report("project list (web)", timed(lambda: get(listing)), 0.1)
    report("project list (API)", timed(lambda: get(api)), 0.1)
    source = list(Trace.objects.filter(project=project, parent__isnull=True)[:1000])
    fields = [
        f.attname for f in Trace._meta.concrete_fields if f.attname not in ("id", "external_id")
    ]
    with transaction.atomic():
        added = Trace.objects.bulk_create(
            [Trace(**{a: getattr(t, a) for a in fields}) for t in source], batch_size=500
        )
    started = time.perf_counter()
    get(detail)
    report("project page right after 1,000 new traces", (time.perf_counter() - started,) * 2, 0.1)
    shown, exact = selectors.project_stats(project=project), _old_project_stats(project=project)
    Trace.objects.filter(pk__in=[t.pk for t in added]).delete()
    print(f"  shown {shown}\n  exact {exact}  {'equal' if shown == exact else 'DIFFERENT'}")
    with mock.patch.object(selectors, "project_stats", _old_project_stats):
        report("before: project page with five COUNTs", timed(lambda: get(detail)))
    with mock.patch.object(selectors, "projects_for_user", _old_projects_for_user):
        report("before: project list (web), COUNT subqueries", timed(lambda: get(listing)))
        report("before: project list (API), COUNT subqueries", timed(lambda: get(api)))
    report(
        "baseline: SELECT COUNT(*) of the project's traces",
        timed(
            lambda: sql_seconds(f"SELECT COUNT(*) FROM {table} WHERE project_id = %s", [project.pk])
        ),
    )


def _old_queue_status(*, project, now=None) -> dict:
    """``review.selectors.queue_status`` as it was before issue 16's fix (exact COUNTs,
    the completed traces counted in Python), for the side-by-side figure."""
    from django.db.models import Count, Max
    from django.utils import timezone

    from reflectlab.annotations.models import Annotation
    from reflectlab.review.models import Claim, GoldItem, QueueItem
    from reflectlab.traces.models import Trace

    now = now or timezone.now()
    items = QueueItem.objects.filter(project=project, is_gold=False, in_queue=True)
    done = (
        Claim.objects.filter(project=project, kind="annotate", state="done", is_gold=False)
        .values("trace_id")
        .annotate(n=Count("id"))
    )
    complete = sum(1 for row in done if row["n"] >= project.overlap)
    live = dict(
        Claim.objects.filter(project=project, state="active", expires_at__gt=now)
        .values("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    notes = dict(
        Annotation.objects.filter(project=project)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    newest = QueueItem.objects.filter(project=project).aggregate(m=Max("trace_id"))["m"] or 0
    return {
        "unqueued": Trace.objects.filter(
            project=project, parent__isnull=True, pk__gt=newest
        ).count(),
        "in_queue": items.count(),
        "open": items.filter(is_open=True).count(),
        "claimed": live.get("annotate", 0),
        "reviewing": live.get("review", 0),
        "complete": complete,
        "excluded": QueueItem.objects.filter(project=project, in_queue=False).count(),
        "gold": GoldItem.objects.filter(project=project).count(),
        "submitted": notes.get("submitted", 0),
        "accepted": notes.get("accepted", 0),
        "rejected": notes.get("rejected", 0),
        "drafts": notes.get("draft", 0),
        "approximate": [],
    }


def bench_queue(client, project, n: int) -> None:
    """The review queue page over one queue item per root trace (``queue_sync`` is off
    the GET path; the items are written here in one INSERT … SELECT, ranked by id)."""
    from django.db import connection
    from django.urls import reverse

    from reflectlab.review import selectors as review_selectors
    from reflectlab.review.models import QueueItem
    from reflectlab.traces.models import Trace

    items = QueueItem._meta.db_table
    if not QueueItem.objects.filter(project=project).exists():
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {items} (project_id, trace_id, pin_order, rank, in_queue, is_gold,
                                         n_taken, is_open)
                    SELECT project_id, id, 1, (id * 7919) %% 1000003, final_correct IS DISTINCT FROM true
                           OR id %% 3 = 0, false, 0, true
                    FROM {Trace._meta.db_table} WHERE project_id = %s AND parent_id IS NULL""",
                [project.pk],
            )
            cursor.execute(f"VACUUM ANALYZE {items}") if connection.get_autocommit() else None
        print(
            f"  (queued {QueueItem.objects.filter(project=project).count():,} items in "
            f"{time.perf_counter() - started:.0f}s)"
        )
    page = reverse("review:queue", args=[project.pk])
    mine = reverse("review:my-work", args=[project.pk])

    def get(url):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    print(f"queue, {QueueItem.objects.filter(project=project).count():,} queue items:")
    report("queue page (manager: counts, upcoming, pins, gold)", timed(lambda: get(page)), 0.3)
    with mock.patch.object(review_selectors, "queue_status", _old_queue_status):
        report("before: the same page with exact COUNTs", timed(lambda: get(page)))
    shown, exact = (
        review_selectors.queue_status(project=project),
        _old_queue_status(project=project),
    )
    for key in ("in_queue", "open", "excluded"):
        mark = "≈" if key in shown["approximate"] else "="
        print(f"  {key:<10} shown {mark} {shown[key]:>9,}   exact {exact[key]:>9,}")
    report("baseline: the my-work page (same layout, no queue)", timed(lambda: get(mine)))
    report(
        "baseline: SELECT COUNT(*) of the queue items",
        timed(
            lambda: sql_seconds(f"SELECT COUNT(*) FROM {items} WHERE project_id = %s", [project.pk])
        ),
    )


def _cursor_url(api: str, after_id: int, query: str) -> str:
    """A cursor link positioned after trace ``after_id`` (what following ``next`` gives).

    DRF's CursorPagination encodes the position as base64 of ``p=<id>``.
    """
    cursor = base64.b64encode(urlencode({"p": after_id}).encode()).decode()
    return f"{api}?{query}&{urlencode({'cursor': cursor})}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=1_000_000)
    parser.add_argument("--only", default="dashboards,lists,queue,projects")
    args = parser.parse_args()

    url = database()
    try:
        setup_django(url)
        from _scale import populate
        from django.conf import settings
        from django.test import Client

        from reflectlab.projects.models import Membership, Project

        # No setup_test_environment(): its instrumented template rendering is
        # not what a server runs (it doubles a list page's render time).
        settings.DEBUG = False  # no query log
        name = f"scale-{args.traces}"
        project = Project.objects.filter(name=name).first()
        if project is not None:
            print(f"reusing {args.traces:,} traces in {DB}")
        else:
            project = Project.objects.create(name=name)
            seconds = populate(project_id=project.pk, n_traces=args.traces)
            print(f"populated {args.traces:,} traces in {seconds:.0f}s")
        from django.contrib.auth import get_user_model

        user, _ = get_user_model().objects.get_or_create(username="bench-scale")
        Membership.objects.get_or_create(project=project, user=user, defaults={"role": "manager"})
        client = Client()
        client.force_login(user)
        for part in filter(None, args.only.split(",")):
            {
                "dashboards": bench_dashboards,
                "lists": bench_lists,
                "queue": bench_queue,
                "projects": bench_projects,
            }[part](client, project, args.traces)
    finally:
        if not os.environ.get("BENCH_KEEP_DB"):
            drop_database(DB)
    return 0


if __name__ == "__main__":
    sys.exit(main())
