"""The project page's and list's trace counts (``ProjectRollup``), kept by the same
triggers (re-installed with the new table) and filled from the traces."""

from django.db import migrations, models

from reflectlab.dashboards import rollup_sql


def install(apps, schema_editor):
    for sql in rollup_sql.install_sql(schema_editor.connection.vendor):
        schema_editor.execute(sql)


def back_to_the_charts_only(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in rollup_sql.install_sql(vendor, tables=rollup_sql.CHART_TABLES):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("dashboards", "0001_rollups"),
    ]

    operations = [
        migrations.CreateModel(
            name="ProjectRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("project_id", models.BigIntegerField()),
                ("compacted", models.BooleanField(default=False)),
                ("traces", models.BigIntegerField(default=0)),
                ("reflective", models.BigIntegerField(default=0)),
                ("correct", models.BigIntegerField(default=0)),
                ("wrong", models.BigIntegerField(default=0)),
                ("truncated", models.BigIntegerField(default=0)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["project_id", "compacted"], name="project_rollup_project")
                ],
            },
        ),
        migrations.RunPython(install, back_to_the_charts_only),
    ]
