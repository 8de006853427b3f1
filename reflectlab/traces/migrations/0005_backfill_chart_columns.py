"""Fill the dashboards' per-trace columns from each trace's stored analysis.

A frozen copy of ``traces.analysis.chart_columns`` (migrations must not follow
later code changes). Batches by primary key, so memory stays flat.
"""

from django.db import migrations

BATCH = 2000
SMALLINT_MAX = 32767
SUFFIXES = (("T→T", "tt"), ("F→F", "ff"), ("F→T", "ft"), ("T→F", "tf"), ("", "ungraded"))
COLUMNS = {
    **{
        (kind, transition): f"n_{kind}_{suffix}"
        for kind in ("confirmatory", "corrective")
        for transition, suffix in SUFFIXES
    },
    ("pre_answer", ""): "n_pre_answer",
    ("trailing", ""): "n_trailing",
}
FIELDS = ["first_candidate_position", *COLUMNS.values()]


def columns(data):
    data = data if isinstance(data, dict) else {}
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    position = metrics.get("first_candidate_position")
    out = dict.fromkeys(COLUMNS.values(), 0)
    out["first_candidate_position"] = (
        float(position)
        if isinstance(position, int | float) and not isinstance(position, bool)
        else None
    )
    reflections = data.get("reflections")
    for r in reflections if isinstance(reflections, list) else ():
        if not isinstance(r, dict):
            continue
        kind, transition = r.get("kind"), r.get("transition") or ""
        column = COLUMNS.get((kind, transition)) or COLUMNS.get((kind, ""))
        if column:
            out[column] = min(out[column] + 1, SMALLINT_MAX)
    return out


def backfill(apps, schema_editor):
    Trace = apps.get_model("traces", "Trace")
    last = 0
    while True:
        rows = list(
            Trace.objects.filter(pk__gt=last, analysis__isnull=False)
            .order_by("pk")
            .values_list("pk", "analysis")[:BATCH]
        )
        if not rows:
            return
        batch = []
        for pk, data in rows:
            trace = Trace(pk=pk)
            for name, value in columns(data).items():
                setattr(trace, name, value)
            batch.append(trace)
        Trace.objects.bulk_update(batch, FIELDS)
        last = rows[-1][0]


class Migration(migrations.Migration):
    dependencies = [("traces", "0004_chart_columns_and_lean_indexes")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
