"""The hint memory's text index: FTS5 on SQLite (kept in step by triggers, which
are the database's own bookkeeping, not application signals), a GIN full-text
index on PostgreSQL."""

from django.db import migrations

SQLITE_UP = [
    "CREATE VIRTUAL TABLE judges_hintentry_fts USING fts5("
    "hint, step_text, content='judges_hintentry', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER judges_hintentry_ai AFTER INSERT ON judges_hintentry BEGIN "
    "INSERT INTO judges_hintentry_fts(rowid, hint, step_text) "
    "VALUES (new.id, new.hint, new.step_text); END",
    "CREATE TRIGGER judges_hintentry_ad AFTER DELETE ON judges_hintentry BEGIN "
    "INSERT INTO judges_hintentry_fts(judges_hintentry_fts, rowid, hint, step_text) "
    "VALUES ('delete', old.id, old.hint, old.step_text); END",
    "CREATE TRIGGER judges_hintentry_au AFTER UPDATE ON judges_hintentry BEGIN "
    "INSERT INTO judges_hintentry_fts(judges_hintentry_fts, rowid, hint, step_text) "
    "VALUES ('delete', old.id, old.hint, old.step_text); "
    "INSERT INTO judges_hintentry_fts(rowid, hint, step_text) "
    "VALUES (new.id, new.hint, new.step_text); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS judges_hintentry_au",
    "DROP TRIGGER IF EXISTS judges_hintentry_ad",
    "DROP TRIGGER IF EXISTS judges_hintentry_ai",
    "DROP TABLE IF EXISTS judges_hintentry_fts",
]
PG_UP = [
    "CREATE INDEX judges_hintentry_fts ON judges_hintentry "
    "USING gin (to_tsvector('english', hint || ' ' || step_text))"
]
PG_DOWN = ["DROP INDEX IF EXISTS judges_hintentry_fts"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("judges", "0001_judges_runs_suggestions")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": PG_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": PG_DOWN}),
        )
    ]
