"""Re-analyse traces made by another analyser or lexicon version.

manage.py reanalyze [--project P] [--all]           # here, one core
manage.py reanalyze --project P --parallel [--chunk 2000] [--no-wait]
                                                    # chunks over id ranges, on the workers
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from reflectlab.prompts.management.commands.import_file import find_project
from reflectlab.traces.parallel import DEFAULT_CHUNK, reanalysis_stale_count, reanalysis_start
from reflectlab.traces.services import traces_reanalyze


class Command(BaseCommand):
    help = "Re-analyse stored traces made by another analyser/lexicon version (all with --all)."

    def add_arguments(self, parser):
        parser.add_argument("--project", default=None, help="Project id or name (default: all).")
        parser.add_argument("--all", action="store_true", help="Also traces already current.")
        parser.add_argument(
            "--parallel", action="store_true", help="Split into chunk tasks for the workers."
        )
        parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="Traces per task.")
        parser.add_argument("--no-wait", action="store_true", help="Enqueue and return.")

    def handle(self, *args, **options):
        project = find_project(options["project"]) if options["project"] else None
        if options["parallel"]:
            self._parallel(project, options)
            return
        with tqdm(unit="trace", disable=options["verbosity"] < 1) as bar:
            last = [0]

            def progress(done: int) -> None:
                bar.update(done - last[0])
                last[0] = done

            done = traces_reanalyze(project=project, force=options["all"], on_progress=progress)
            bar.update(done - last[0])
        self.stdout.write(f"{done} traces re-analysed")

    def _parallel(self, project, options) -> None:
        if project is None or options["all"]:
            raise CommandError("--parallel takes one --project and re-analyses stale traces only.")
        if options["chunk"] < 1:
            raise CommandError("--chunk must be at least 1.")
        total = reanalysis_stale_count(project=project)
        chunks = reanalysis_start(project=project, chunk=options["chunk"])
        self.stdout.write(f"{total} stale traces in {chunks} chunk tasks")
        if options["no_wait"]:
            return
        with tqdm(total=total, unit="trace", disable=options["verbosity"] < 1) as bar:
            while (left := reanalysis_stale_count(project=project)) > 0:
                bar.n = total - left
                bar.refresh()
                time.sleep(0.5)
            bar.n = total
            bar.refresh()
        self.stdout.write(f"{total} traces re-analysed")
