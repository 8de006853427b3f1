"""``manage.py import_file PROJECT FILE --kind prompts|traces [--map target=source ...]``."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from reflectlab.projects.models import Project
from reflectlab.prompts.services import ImportFailed, import_stream


def parse_mapping(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        target, sep, source = item.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise CommandError(f"--map takes target=source, got {item!r}")
        mapping[target.strip()] = source.strip()
    return mapping


class Command(BaseCommand):
    help = "Import prompts or traces from a JSONL or CSV file into a project."

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project id or exact name.")
        parser.add_argument("path", type=Path)
        parser.add_argument("--kind", choices=["prompts", "traces"], default="prompts")
        parser.add_argument("--format", choices=["jsonl", "csv"], default=None)
        parser.add_argument("--map", action="append", default=[], metavar="TARGET=SOURCE")
        parser.add_argument("--allow-partial", action="store_true")

    def handle(self, *args, **options):
        project = find_project(options["project"])
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        file_format = options["format"] or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
        size = path.stat().st_size
        with (
            path.open("rb") as stream,
            tqdm(
                total=size,
                unit="B",
                unit_scale=True,
                desc="writing",
                disable=options["verbosity"] < 1,
            ) as bar,
        ):
            last = [0]

            def progress(done: int) -> None:
                bar.update(done - last[0])
                last[0] = done

            try:
                report = import_stream(
                    project=project,
                    stream=stream,
                    kind=options["kind"],
                    file_format=file_format,
                    mapping=parse_mapping(options["map"]),
                    allow_partial=options["allow_partial"],
                    on_progress=progress,
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            except ImportFailed as failed:
                written = failed.report["rows_written"]
                raise CommandError(
                    f"The import failed while writing ({type(failed.__cause__).__name__}): "
                    + (f"{written} rows were written." if written else "nothing was written.")
                ) from failed
        for error in report["errors"][:50]:
            self.stderr.write(f"line {error['line']}: {error['error']}")
        self.stdout.write(
            f"{report['rows_written']} written, {report['rows_skipped']} already present, "
            f"{report['rows_rejected']} rejected"
        )
        if not report["written"]:
            raise CommandError("Nothing was written: fix the lines above or pass --allow-partial.")


def find_project(value: str) -> Project:
    queryset = (
        Project.objects.filter(pk=int(value))
        if value.isdigit()
        else Project.objects.filter(name=value)
    )
    project = queryset.first()
    if project is None:
        raise CommandError(f"No project {value!r}.")
    return project
