from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reflectlab.projects.models import Project
from reflectlab.prompts.processbench import processbench_import


class Command(BaseCommand):
    help = "Import ProcessBench JSON files as traces with accepted first-error annotations."

    def add_arguments(self, parser):
        parser.add_argument("project", type=int, help="Project id.")
        parser.add_argument(
            "files",
            nargs="*",
            help="ProcessBench .json files (default: <REFLECTLAB_SHARED_DATA>/processbench/*.json).",
        )

    def handle(self, *args, project, files, **options):
        try:
            target = Project.objects.get(pk=project)
        except Project.DoesNotExist:
            raise CommandError(f"No project {project}.") from None
        paths = [Path(f) for f in files] or sorted(
            (Path(settings.REFLECTLAB_SHARED_DATA) / "processbench").glob("*.json")
        )
        if not paths:
            raise CommandError("No ProcessBench files given or found.")
        report = processbench_import(project=target, paths=paths)
        for name, counts in report["files"].items():
            self.stdout.write(
                f"{name}: {counts['items']} items, {counts['traces_written']} traces and "
                f"{counts['annotations_written']} annotations written"
            )
        if report["remapped"]:
            self.stdout.write(
                f"{len(report['remapped'])} item(s) whose steps the analyser joins (a math block "
                f"or code fence spans a step boundary); label moved to the analyser step: "
                f"{', '.join(report['remapped'])}"
            )
