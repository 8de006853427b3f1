from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reflectlab.core.storage import exports_storage, storage_chunks
from reflectlab.exports import services
from reflectlab.exports.models import Export
from reflectlab.projects.models import Project


class Command(BaseCommand):
    help = (
        "Write a trainer-ready export now (in this process) and copy the file out; "
        "or, with --id, copy out an existing finished export."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", type=int, help="Project id (for a new export).")
        parser.add_argument("--kind", choices=Export.Kind.values, default="preference")
        parser.add_argument("--format", choices=Export.Format.values, default="jsonl")
        parser.add_argument("--filters", default="{}", help="JSON object of filters.")
        parser.add_argument("--options", default="{}", help="JSON object of options.")
        parser.add_argument("--id", type=int, help="An existing export to copy out.")
        parser.add_argument("--output", "-o", help="Where to copy the file.")

    def handle(self, *args, **o):
        if o["id"]:
            export = Export.objects.filter(pk=o["id"]).first()
            if export is None:
                raise CommandError(f"No export {o['id']}.")
        else:
            if not o["project"]:
                raise CommandError("Give --project (new export) or --id (existing export).")
            project = Project.objects.filter(pk=o["project"]).first()
            if project is None:
                raise CommandError(f"No project {o['project']}.")
            try:
                filters, options = json.loads(o["filters"]), json.loads(o["options"])
                export = services.export_create(
                    project=project,
                    user=None,
                    kind=o["kind"],
                    format=o["format"],
                    filters=filters,
                    options=options,
                    enqueue=False,
                )
            except (ValueError, TypeError) as exc:
                raise CommandError(str(exc)) from None
            # Run here; the task queued on commit finds it finished and does nothing.
            services.export_execute(export_id=export.pk)
            export.refresh_from_db()
        if export.state != Export.State.SUCCEEDED:
            raise CommandError(f"Export {export.pk} is {export.state}: {export.error}")
        self.stdout.write(
            f"export {export.pk}: {export.rows_written} rows, {export.size_bytes} bytes, "
            f"sha256 {export.sha256}"
        )
        if o["output"]:
            out = Path(o["output"])
            if out.is_dir():
                out = out / export.file_name
            with out.open("wb") as fh:
                for chunk in storage_chunks(storage=exports_storage(), key=export.key):
                    fh.write(chunk)
            self.stdout.write(f"written to {out}")
