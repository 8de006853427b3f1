from __future__ import annotations

from django.core.management.base import BaseCommand
from tqdm import tqdm

from reflectlab.prompts.management.commands.import_file import find_project
from reflectlab.traces.services import traces_reanalyze


class Command(BaseCommand):
    help = "Re-analyse stored traces made by another analyser/lexicon version (all with --all)."

    def add_arguments(self, parser):
        parser.add_argument("--project", default=None, help="Project id or name (default: all).")
        parser.add_argument("--all", action="store_true", help="Also traces already current.")

    def handle(self, *args, **options):
        project = find_project(options["project"]) if options["project"] else None
        with tqdm(unit="trace", disable=options["verbosity"] < 1) as bar:
            last = [0]

            def progress(done: int) -> None:
                bar.update(done - last[0])
                last[0] = done

            done = traces_reanalyze(project=project, force=options["all"], on_progress=progress)
            bar.update(done - last[0])
        self.stdout.write(f"{done} traces re-analysed")
