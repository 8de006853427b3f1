"""Re-rank every queue item: "wrong_first" now places truncated traces without an answer
(``Trace.outcome``, backfilled in traces 0004) by the policy's ``truncated_no_answer``."""

from django.db import migrations

from reflectlab.review.policy import project_policy

FIELDS = ("id", "final_correct", "outcome", "has_corrective", "n_reflection_steps")
FIELDS += ("reflection_share", "truncated")


def rerank(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    QueueItem = apps.get_model("review", "QueueItem")
    Trace = apps.get_model("traces", "Trace")
    for project in Project.objects.only("id", "queue_policy").iterator():
        policy = project_policy(project)
        items = {item.trace_id: item for item in QueueItem.objects.filter(project=project)}
        changed = []
        for trace in Trace.objects.filter(pk__in=list(items)).only(*FIELDS).iterator(2000):
            item = items[trace.pk]
            rank = policy.rank(trace)
            if item.rank != rank:
                item.rank = rank
                changed.append(item)
        QueueItem.objects.bulk_update(changed, ["rank"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0002_drop_indexes_covered_by_composites"),
        ("traces", "0006_outcome_answer_reached_step"),
    ]

    operations = [migrations.RunPython(rerank, migrations.RunPython.noop, elidable=True)]
